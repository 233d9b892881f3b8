"""The connection to a node: reconnecting RPC, metadata, storage queries and subscriptions.

:class:`ChainConnection` holds one substrate-interface connection per endpoint. Every network
call goes through ``_rpc``, which retries with :func:`~decentralml.core.retry.retry` and
reconnects after a dropped connection (a node restart); a node that stays unreachable raises
:class:`~decentralml.core.errors.NodeUnreachable` naming the URL. Signing and submission
build on it in :mod:`.submit`, the typed Balances and Assets calls in :mod:`.client`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any, Self, TypeVar

from substrateinterface import SubstrateInterface
from substrateinterface.exceptions import SubstrateRequestException
from websocket import WebSocketException

from ..errors import ChainError, NodeUnreachable, UnknownCall
from ..retry import RetryPolicy, retry
from ..types import BlockHeader, ChainEvent, ChainType, enum_name
from .lean import LeanSubstrate

log = logging.getLogger(__name__)

T = TypeVar("T")

TRANSIENT: tuple[type[BaseException], ...] = (
    ConnectionError,
    TimeoutError,
    BrokenPipeError,
    WebSocketException,
    OSError,
)
"""Errors that mean 'the connection is gone', retried with a reconnect."""


class ChainConnection:
    """Reads from a node-decentralml (or any Substrate node): RPC, metadata, storage, events."""

    def __init__(self, url: str, *, policy: RetryPolicy | None = None) -> None:
        self.url = url
        self.policy = policy or RetryPolicy(attempts=6, deadline_s=30.0)
        self._substrate: SubstrateInterface | None = None
        self._lock = threading.RLock()

    # ---- connection ------------------------------------------------------------------------
    def _connect(self) -> SubstrateInterface:
        if self._substrate is None:
            log.debug("connecting to %s", self.url)
            substrate = LeanSubstrate(url=self.url, ss58_format=42)
            substrate.init_runtime()  # metadata of the current runtime, for calls by name
            self._substrate = substrate
        return self._substrate

    @property
    def substrate(self) -> SubstrateInterface:
        """The underlying connection (connects, with retries, on first use)."""
        return self._rpc(lambda si: si, "connect")

    def _drop(self, _exc: BaseException | None = None) -> None:
        with self._lock:
            if self._substrate is not None:
                try:
                    self._substrate.close()
                except Exception:
                    log.debug("close failed", exc_info=True)
            self._substrate = None

    def _rpc(self, fn: Callable[[SubstrateInterface], T], what: str) -> T:
        def attempt() -> T:
            with self._lock:
                return fn(self._connect())

        try:
            return retry(
                attempt, what=what, transient=TRANSIENT, policy=self.policy, on_retry=self._drop
            )
        except TRANSIENT as exc:
            self._drop()
            raise NodeUnreachable(
                f"node at {self.url} is unreachable ({type(exc).__name__}: {exc}): start it "
                "(scripts/run) or fix chain.url"
            ) from None
        except SubstrateRequestException as exc:
            raise ChainError(f"{what}: the node answered with an error: {exc}") from None

    def close(self) -> None:
        self._drop()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def rpc(self, method: str, params: list[Any] | None = None) -> Any:
        reply = self._rpc(lambda si: si.rpc_request(method, params or []), method)
        return reply.get("result")

    # ---- chain identity ---------------------------------------------------------------------
    def chain_type(self) -> ChainType:
        raw = self.rpc("system_chainType")
        name = enum_name(raw)
        try:
            return ChainType(name)
        except ValueError:
            return ChainType.CUSTOM

    def info(self) -> dict[str, Any]:
        def read(si: SubstrateInterface) -> dict[str, Any]:
            props = si.rpc_request("system_properties", [])["result"]
            version = si.rpc_request("state_getRuntimeVersion", [])["result"]
            head = si.get_block_header(finalized_only=False)["header"]
            finalized_hash = si.get_chain_finalised_head()
            finalized = si.get_block_number(finalized_hash)
            return {
                "chain": si.rpc_request("system_chain", [])["result"],
                "chain_type": enum_name(si.rpc_request("system_chainType", [])["result"]),
                "node": si.rpc_request("system_name", [])["result"],
                "node_version": si.rpc_request("system_version", [])["result"],
                "spec_name": version["specName"],
                "spec_version": version["specVersion"],
                "token_symbol": props.get("tokenSymbol"),
                "token_decimals": props.get("tokenDecimals"),
                "ss58_format": props.get("ss58Format"),
                "best_block": int(head["number"]),
                "finalized_block": int(finalized),
                "pallets": sorted(p.name for p in si.metadata.pallets),
            }

        return self._rpc(read, "chain info")

    def token(self) -> tuple[str, int]:
        def read(si: SubstrateInterface) -> tuple[str, int]:
            return str(si.token_symbol or "DML"), int(si.token_decimals or 12)

        return self._rpc(read, "token")

    def block_number(self, finalized: bool = False) -> int:
        def read(si: SubstrateInterface) -> int:
            if finalized:
                return int(si.get_block_number(si.get_chain_finalised_head()))
            return int(si.rpc_request("chain_getHeader", [])["result"]["number"], 16)

        return self._rpc(read, "block number")

    # ---- metadata -------------------------------------------------------------------------------
    def pallets(self) -> list[str]:
        return self._rpc(lambda si: sorted(p.name for p in si.metadata.pallets), "metadata")

    def calls(self, pallet: str) -> list[dict[str, Any]]:
        """The pallet's calls with their arguments and docs, from the metadata."""

        def read(si: SubstrateInterface) -> list[dict[str, Any]]:
            module = self._module(si, pallet)
            out = []
            for call in module.calls or []:
                out.append(
                    {
                        "name": call.name,
                        "args": [{"name": a.name, "type": a.type} for a in call.args],
                        "docs": " ".join(d.strip() for d in call.docs),
                    }
                )
            return out

        return self._rpc(read, f"calls of {pallet}")

    def has_call(self, pallet: str, call: str) -> bool:
        try:
            return any(c["name"] == call for c in self.calls(pallet))
        except UnknownCall:
            return False

    def has_storage(self, pallet: str, item: str) -> bool:
        def read(si: SubstrateInterface) -> bool:
            try:
                module = self._module(si, pallet)
            except UnknownCall:
                return False
            return any(s.name == item for s in (module.storage or []))

        return self._rpc(read, "metadata")

    @staticmethod
    def _module(si: SubstrateInterface, pallet: str) -> Any:
        for module in si.metadata.pallets:
            if module.name == pallet:
                return module
        raise UnknownCall(f"the runtime has no pallet {pallet!r}")

    # ---- storage -----------------------------------------------------------------------------
    def storage(self, pallet: str, item: str, params: list[Any] | None = None) -> Any:
        """One storage value (decoded to plain data), or None."""

        def read(si: SubstrateInterface) -> Any:
            if not self.has_storage_unlocked(si, pallet, item):
                raise UnknownCall(f"the runtime has no storage {pallet}.{item}")
            return si.query(pallet, item, params or []).value

        return self._rpc(read, f"query {pallet}.{item}")

    def storage_entries(
        self, pallet: str, item: str, prefix: list[Any] | None = None
    ) -> list[tuple[Any, Any]]:
        """Every (key, value) of a storage map (of a double map: under ``prefix``), decoded."""

        def read(si: SubstrateInterface) -> list[tuple[Any, Any]]:
            if not self.has_storage_unlocked(si, pallet, item):
                raise UnknownCall(f"the runtime has no storage {pallet}.{item}")
            result = si.query_map(pallet, item, params=prefix or None, page_size=500)
            return [(key.value, value.value) for key, value in result]

        return self._rpc(read, f"query {pallet}.{item}")

    def has_storage_unlocked(self, si: SubstrateInterface, pallet: str, item: str) -> bool:
        try:
            module = self._module(si, pallet)
        except UnknownCall:
            return False
        return any(s.name == item for s in (module.storage or []))

    def constant(self, pallet: str, name: str) -> Any:
        def read(si: SubstrateInterface) -> Any:
            found = si.get_constant(pallet, name)
            if found is None:
                raise UnknownCall(f"the runtime has no constant {pallet}.{name}")
            return found.value

        return self._rpc(read, f"constant {pallet}.{name}")

    # ---- subscriptions ---------------------------------------------------------------------------
    def watch_heads(
        self,
        handler: Callable[[BlockHeader], bool | None],
        *,
        finalized: bool = False,
    ) -> None:
        """Call ``handler`` for each new block header until it returns True.

        Survives node restarts: the subscription is re-established with backoff and no
        block number is reported twice.
        """
        last = -1

        def on_header(obj: Any, _update: int, _sub: str) -> bool | None:
            nonlocal last
            header = obj["header"]
            number = (
                int(header["number"], 16)
                if isinstance(header["number"], str)
                else int(header["number"])
            )
            if number <= last:
                return None
            last = number
            block_hash = header.get("hash") or self._substrate_hash(number)
            stop = handler(BlockHeader(number, str(block_hash), str(header["parentHash"])))
            return True if stop else None

        def subscribe() -> None:
            with self._lock:
                si = self._connect()
            si.subscribe_block_headers(on_header, finalized_only=finalized)

        retry(
            subscribe,
            what="block subscription",
            transient=TRANSIENT,
            policy=RetryPolicy(attempts=12, deadline_s=120.0),
            on_retry=self._drop,
        )

    def _substrate_hash(self, number: int) -> str:
        return str(self.rpc("chain_getBlockHash", [number]))

    def watch_events(
        self,
        handler: Callable[[ChainEvent], bool | None],
        *,
        pallets: Iterable[str] | None = None,
        finalized: bool = False,
    ) -> None:
        """Call ``handler`` for each event of ``pallets`` (None: all) in new blocks until True."""
        wanted = set(pallets) if pallets else None

        def on_block(header: BlockHeader) -> bool:
            for event in self.events(header.hash, header.number):
                if (wanted is None or event.pallet in wanted) and handler(event):
                    return True
            return False

        self.watch_heads(on_block, finalized=finalized)

    def events(self, block_hash: str, block_number: int | None = None) -> list[ChainEvent]:
        def read(si: SubstrateInterface) -> list[ChainEvent]:
            out = []
            for record in si.get_events(block_hash):
                value = record.value
                event = value["event"]
                out.append(
                    ChainEvent(
                        event["module_id"],
                        event["event_id"],
                        event["attributes"],
                        block_number,
                        value.get("extrinsic_idx"),
                    )
                )
            return out

        return self._rpc(read, "events")
