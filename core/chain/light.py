"""A light, read-only storage reader for fast CLI start-up.

Listing commands (`task list`, `model list`, `propose list` ...) only read storage. Importing
substrate-interface costs about 0.3-0.6 s on a 2-core machine (it pulls in eth_keys, ecdsa
and requests at import time) before any work is done. This reader uses the same SCALE codec
(scalecodec, so values decode exactly as through substrate-interface) over a plain websocket,
with the core type registry read from scalecodec's own package file.

It implements only what :class:`~decentralml.core.chain.decentralml.DecentralMl` reads through
(`storage`, `storage_entries`); everything that signs goes through :class:`ChainClient`.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from ..errors import ChainError, NodeUnreachable, UnknownCall
from ..retry import RetryPolicy, retry

log = logging.getLogger(__name__)

_HASHER_PREFIX = {
    "Blake2_128Concat": 16,
    "Twox64Concat": 8,
    "Identity": 0,
}


class LightReader:
    def __init__(self, url: str, *, policy: RetryPolicy | None = None) -> None:
        self.url = url
        self.policy = policy or RetryPolicy(attempts=4, initial_delay_s=0.25, deadline_s=5.0)
        self._ws: Any = None
        self._id = 0
        self._runtime: Any = None
        self._metadata: Any = None
        self._ss58 = 42

    # ---- transport ------------------------------------------------------------------------------
    def _connect(self) -> Any:
        if self._ws is None:
            import websocket

            def attempt() -> Any:
                return websocket.create_connection(self.url, timeout=10)

            try:
                self._ws = retry(
                    attempt,
                    what="connect",
                    transient=(OSError, websocket.WebSocketException),
                    policy=self.policy,
                )
            except (OSError, websocket.WebSocketException) as exc:
                raise NodeUnreachable(
                    f"node at {self.url} is unreachable ({type(exc).__name__}: {exc}): start it "
                    "(scripts/run) or fix chain.url"
                ) from None
        return self._ws

    def rpc(self, method: str, params: list[Any] | None = None) -> Any:
        ws = self._connect()
        self._id += 1
        ws.send(
            json.dumps({"jsonrpc": "2.0", "id": self._id, "method": method, "params": params or []})
        )
        while True:
            reply = json.loads(ws.recv())
            if reply.get("id") == self._id:
                break
        if "error" in reply:
            raise ChainError(f"{method}: the node answered with an error: {reply['error']}")
        return reply.get("result")

    def close(self) -> None:
        if self._ws is not None:
            try:
                self._ws.close()
            finally:
                self._ws = None

    # ---- metadata -------------------------------------------------------------------------------
    def _init(self) -> None:
        if self._runtime is not None:
            return
        import scalecodec
        from scalecodec.base import RuntimeConfigurationObject, ScaleBytes

        props = self.rpc("system_properties") or {}
        self._ss58 = int(props.get("ss58Format", 42))
        preset = Path(scalecodec.__file__).parent / "type_registry" / "core.json"
        # As substrate-interface's init_runtime does (same registry, same SS58 rendering).
        runtime = RuntimeConfigurationObject(ss58_format=self._ss58, implements_scale_info=True)
        runtime.update_type_registry(json.loads(preset.read_text()))
        metadata = runtime.create_scale_object(
            "MetadataVersioned", data=ScaleBytes(self.rpc("state_getMetadata"))
        )
        metadata.decode()
        runtime.add_portable_registry(metadata)
        self._runtime, self._metadata = runtime, metadata

    def _function(self, pallet: str, item: str) -> Any:
        self._init()
        for module in self._metadata.pallets:
            if module.name == pallet:
                for function in module.storage or []:
                    if function.name == item:
                        return function
        raise UnknownCall(f"the runtime has no storage {pallet}.{item}")

    def _decode(self, type_string: str, data: str | bytes) -> Any:
        from scalecodec.base import ScaleBytes

        obj = self._runtime.create_scale_object(
            type_string, data=ScaleBytes(data), metadata=self._metadata
        )
        obj.decode(check_remaining=False)
        return obj

    def _value(self, function: Any, data: str | None) -> Any:
        if data is None:
            if function.value["modifier"] == "Default":
                default = function.value_object["default"].value_object
                return self._decode(function.get_value_type_string(), default).value
            return None
        return self._decode(function.get_value_type_string(), data).value

    @staticmethod
    def _prefix(pallet: str, item: str) -> str:
        import xxhash

        def twox128(text: str) -> str:
            data = text.encode()
            return (
                xxhash.xxh64(data, seed=0).intdigest().to_bytes(8, "little")
                + xxhash.xxh64(data, seed=1).intdigest().to_bytes(8, "little")
            ).hex()

        return "0x" + twox128(pallet) + twox128(item)

    # ---- reads ----------------------------------------------------------------------------------
    def storage(self, pallet: str, item: str, params: list[Any] | None = None) -> Any:
        function = self._function(pallet, item)
        if params:
            hashers = function.get_param_hashers()
            type_strings = function.get_params_type_string()
            key = self._prefix(pallet, item)
            for value, hasher, type_string in zip(params, hashers, type_strings, strict=False):
                encoded = self._runtime.create_scale_object(type_string).encode(value)
                key += _hash(hasher, encoded.data)
        else:
            key = self._prefix(pallet, item)
        return self._value(function, self.rpc("state_getStorage", [key]))

    def storage_entries(
        self, pallet: str, item: str, prefix: list[Any] | None = None
    ) -> list[tuple[Any, Any]]:
        if prefix:
            raise UnknownCall("LightReader reads whole maps only")
        function = self._function(pallet, item)
        hashers = function.get_param_hashers()
        type_strings = function.get_params_type_string()
        start = self._prefix(pallet, item)
        keys: list[str] = []
        while True:
            page = self.rpc("state_getKeysPaged", [start, 500, keys[-1] if keys else start])
            keys += page
            if len(page) < 500:
                break
        out: list[tuple[Any, Any]] = []
        for offset in range(0, len(keys), 500):
            chunk = keys[offset : offset + 500]
            (changes,) = self.rpc("state_queryStorageAt", [chunk])
            values = dict(changes["changes"])
            for raw_key in chunk:
                out.append(
                    (
                        self._key(raw_key, start, hashers, type_strings),
                        self._value(function, values.get(raw_key)),
                    )
                )
        return out

    def _key(self, raw_key: str, prefix: str, hashers: list[str], type_strings: list[str]) -> Any:
        data = bytes.fromhex(raw_key[len(prefix) :])
        parts = []
        for hasher, type_string in zip(hashers, type_strings, strict=True):
            skip = _HASHER_PREFIX.get(hasher)
            if skip is None:
                raise UnknownCall(f"cannot decode keys hashed with {hasher}")
            data = data[skip:]
            obj = self._decode(type_string, data)
            parts.append(obj.value)
            data = data[obj.data.offset :]
        return parts[0] if len(parts) == 1 else parts


def _hash(hasher: str, data: bytes) -> str:
    import hashlib

    if hasher == "Blake2_128Concat":
        return hashlib.blake2b(data, digest_size=16).hexdigest() + data.hex()
    if hasher == "Identity":
        return data.hex()
    if hasher == "Twox64Concat":
        import xxhash

        return xxhash.xxh64(data, seed=0).intdigest().to_bytes(8, "little").hex() + data.hex()
    raise UnknownCall(f"cannot hash keys with {hasher}")
