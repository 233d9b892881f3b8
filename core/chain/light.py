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
from . import scaleplan

log = logging.getLogger(__name__)

_HASHER_PREFIX = {
    "Blake2_128Concat": 16,
    "Twox64Concat": 8,
    "Identity": 0,
}


class LightReader:
    def __init__(
        self, url: str, *, policy: RetryPolicy | None = None, cache_dir: Path | None = None
    ) -> None:
        self.url = url
        self.policy = policy or RetryPolicy(attempts=4, initial_delay_s=0.25, deadline_s=5.0)
        self._ws: Any = None
        self._id = 0
        self._runtime: Any = None
        self._metadata: Any = None
        self._metadata_hex = ""
        self._plan: scaleplan.PlanDecoder | None = None
        self._plan_key = ""
        self._cache_dir = cache_dir
        self._ss58 = 42

    # ---- transport ------------------------------------------------------------------------------
    def _connect(self) -> Any:
        if self._ws is None:
            import websocket

            def attempt() -> Any:
                # The node's JSON is ASCII; per-frame UTF-8 validation in pure Python costs
                # about 0.1 s on the metadata alone.
                return websocket.create_connection(self.url, timeout=10, skip_utf8_validation=True)

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
    def _fetch_metadata(self) -> None:
        if self._metadata_hex:
            return
        import hashlib

        props = self.rpc("system_properties") or {}
        self._ss58 = int(props.get("ss58Format", 42))
        self._metadata_hex = self.rpc("state_getMetadata")
        raw = bytes.fromhex(self._metadata_hex[2:])
        self._plan_key = f"{hashlib.blake2b(raw, digest_size=16).hexdigest()}-{self._ss58}"

    def _init(self) -> None:
        """Fetch the metadata and load its decoding plan from the cache (fast path)."""
        if self._plan is not None:
            return
        self._fetch_metadata()
        plan = scaleplan.load_cached(self._plan_key, self._cache_dir)
        if plan is None:
            self._init_scalecodec()
            plan = scaleplan.build_plan(self._runtime, self._metadata, self._ss58)
            scaleplan.store(self._plan_key, plan, self._cache_dir)
        self._plan = scaleplan.PlanDecoder(plan)

    def _init_scalecodec(self) -> None:
        """Decode the metadata with scalecodec (slow: about 0.6 s), for what plans cannot do."""
        if self._runtime is not None:
            return
        self._fetch_metadata()
        import scalecodec
        from scalecodec.base import RuntimeConfigurationObject, ScaleBytes

        preset = Path(scalecodec.__file__).parent / "type_registry" / "core.json"
        # As substrate-interface's init_runtime does (same registry, same SS58 rendering).
        runtime = RuntimeConfigurationObject(ss58_format=self._ss58, implements_scale_info=True)
        runtime.update_type_registry(json.loads(preset.read_text()))
        metadata = runtime.create_scale_object(
            "MetadataVersioned", data=ScaleBytes(self._metadata_hex)
        )
        metadata.decode()
        runtime.add_portable_registry(metadata)
        self._runtime, self._metadata = runtime, metadata

    def _planned(self, pallet: str, item: str) -> dict[str, Any] | None:
        """The plan of a storage item, or None when it must go through scalecodec."""
        self._init()
        assert self._plan is not None
        if self._plan.plan["storage"].get(pallet, {}).get(item) is None:
            raise UnknownCall(f"the runtime has no storage {pallet}.{item}")
        return self._plan.item(pallet, item)

    def _function(self, pallet: str, item: str) -> Any:
        self._init_scalecodec()
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

    def _planned_value(self, entry: dict[str, Any], data: str | None) -> Any:
        assert self._plan is not None
        if data is None:
            if entry["modifier"] != "Default":
                return None
            data = entry["default"]
        return self._plan.decode(entry["value"], bytes.fromhex(data[2:]))[0]

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
        entry = self._planned(pallet, item)
        if entry is not None:
            key = self._prefix(pallet, item)
            try:
                for value, hasher, type_id in zip(
                    params or [], entry["hashers"], entry["keys"], strict=False
                ):
                    key += _hash(hasher, self._encode_key(type_id, value))
            except scaleplan.Unsupported:
                entry = None
            else:
                return self._planned_value(entry, self.rpc("state_getStorage", [key]))
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

    def _encode_key(self, type_id: int, value: Any) -> bytes:
        """SCALE bytes of a key of a simple type (ids and accounts); others go to scalecodec."""
        assert self._plan is not None
        plan = self._plan.types.get(str(type_id))
        if plan is not None and plan["k"] == "uint":
            return int(value).to_bytes(plan["n"], "little")
        if plan is not None and plan["k"] == "account":
            from scalecodec.utils.ss58 import ss58_decode

            text = str(value)
            return bytes.fromhex(text[2:] if text.startswith("0x") else ss58_decode(text))
        raise scaleplan.Unsupported(f"key type {type_id}")

    def _all_keys(self, start: str) -> list[str]:
        keys: list[str] = []
        while True:
            page = self.rpc("state_getKeysPaged", [start, 500, keys[-1] if keys else start])
            keys += page
            if len(page) < 500:
                return keys

    def _all_values(self, keys: list[str]) -> dict[str, str | None]:
        values: dict[str, str | None] = {}
        for offset in range(0, len(keys), 500):
            (changes,) = self.rpc("state_queryStorageAt", [keys[offset : offset + 500]])
            values.update(dict(changes["changes"]))
        return values

    def storage_entries(
        self, pallet: str, item: str, prefix: list[Any] | None = None
    ) -> list[tuple[Any, Any]]:
        if prefix:
            raise UnknownCall("LightReader reads whole maps only")
        entry = self._planned(pallet, item)
        start = self._prefix(pallet, item)
        if entry is not None:
            keys = self._all_keys(start)
            values = self._all_values(keys)
            return [
                (self._planned_key(raw, start, entry), self._planned_value(entry, values.get(raw)))
                for raw in keys
            ]
        function = self._function(pallet, item)
        hashers = function.get_param_hashers()
        type_strings = function.get_params_type_string()
        keys = self._all_keys(start)
        values = self._all_values(keys)
        return [
            (self._key(raw, start, hashers, type_strings), self._value(function, values.get(raw)))
            for raw in keys
        ]

    def _planned_key(self, raw_key: str, prefix: str, entry: dict[str, Any]) -> Any:
        assert self._plan is not None
        data = bytes.fromhex(raw_key[len(prefix) :])
        at = 0
        parts = []
        for hasher, type_id in zip(entry["hashers"], entry["keys"], strict=True):
            skip = _HASHER_PREFIX.get(hasher)
            if skip is None:
                raise UnknownCall(f"cannot decode keys hashed with {hasher}")
            value, at = self._plan.decode(type_id, data, at + skip)
            parts.append(value)
        return parts[0] if len(parts) == 1 else parts

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
