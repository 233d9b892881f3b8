"""A substrate-interface connection that asks the node less per call.

substrate-interface re-checks the runtime before every compose, query and signature (the chain
head, its header, then the runtime version of its parent: three round trips), and looks up the
genesis hash and the era's birth block on every signature. Over a link with 100 ms of delay
that made one transfer cost 36 round trips, about 14 s. :class:`LeanSubstrate` keeps the same
answers with fewer questions:

- the head's runtime is re-checked at most every ``runtime_ttl_s`` (1 s by default) and with
  two round trips (the best header, then its parent's runtime version). The check was already
  a race with the next block; a second of staleness is the same race, and a node that moved to
  a new runtime refuses an extrinsic signed for the old one (the signature covers the spec and
  transaction versions), which the submitter reports. Whenever a past block's runtime is
  loaded (reading an old block's events), the next head query checks again;
- hashes of finalized block numbers never change, so the genesis hash and era birth blocks are
  kept once read;
- the era's birth is a finalized block reused while the head is less than ``ERA_REUSE`` blocks
  past it, so a signature needs no lookup at all most of the time.
"""

from __future__ import annotations

import time
from typing import Any

from substrateinterface import SubstrateInterface

ERA_REUSE = 32
"""Blocks an era's birth is reused for (of a 256-block period: at least 224 left to live)."""

_HASH_CACHE_LIMIT = 4096


class LeanSubstrate(SubstrateInterface):  # type: ignore[misc]
    """SubstrateInterface with cached runtime checks and finalized block hashes."""

    def __init__(self, *args: Any, runtime_ttl_s: float = 1.0, **kwargs: Any) -> None:
        self.runtime_ttl_s = runtime_ttl_s
        self._head_checked_at: float | None = None
        self._finalized_hashes: dict[int, str] = {}
        self._known_finalized = -1
        self._era_birth: int | None = None
        super().__init__(*args, **kwargs)

    # ---- runtime checks ---------------------------------------------------------------------
    def init_runtime(self, block_hash: str | None = None, block_id: int | None = None) -> None:
        if block_hash is None and block_id is None:
            fresh = (
                self._head_checked_at is not None
                and time.monotonic() - self._head_checked_at < self.runtime_ttl_s
                and self.runtime_version is not None
            )
            if fresh:
                return
            header = self.rpc_request("chain_getHeader", [])["result"]
            parent = header["parentHash"] if int(header["number"], 16) > 0 else None
            if parent is not None and self.runtime_version is not None:
                version = self.get_block_runtime_version(block_hash=parent)
                if version and version.get("specVersion") == self.runtime_version:
                    self._head_checked_at = time.monotonic()
                    return
            super().init_runtime()
            self._head_checked_at = time.monotonic()
            return
        before = self.runtime_version
        super().init_runtime(block_hash=block_hash, block_id=block_id)
        if self.runtime_version != before:
            self._head_checked_at = None  # a past runtime is loaded: check the head next time

    # ---- finalized hashes ---------------------------------------------------------------------
    def get_block_hash(self, block_id: int | None = None) -> Any:
        if block_id is not None and 0 <= block_id <= self._known_finalized:
            cached = self._finalized_hashes.get(block_id)
            if cached is not None:
                return cached
        found = super().get_block_hash(block_id)
        if block_id is not None and found and 0 <= block_id <= max(0, self._known_finalized):
            if len(self._finalized_hashes) >= _HASH_CACHE_LIMIT:
                self._finalized_hashes.clear()
            self._finalized_hashes[block_id] = found
        return found

    def era(self, period: int, head: int) -> dict[str, int]:
        """A mortal era of ``period`` blocks born at a finalized block at most ``ERA_REUSE``
        blocks behind ``head`` (while finality keeps up; the latest finalized one otherwise)."""
        if self._era_birth is None or head - self._era_birth >= ERA_REUSE:
            self._refresh_finalized()
            self._era_birth = self._known_finalized
        return {"period": period, "current": self._era_birth}

    def _refresh_finalized(self) -> None:
        finalized_hash = self.get_chain_finalised_head()
        number = int(self.rpc_request("chain_getHeader", [finalized_hash])["result"]["number"], 16)
        self._known_finalized = max(self._known_finalized, number)
        self._finalized_hashes.setdefault(number, finalized_hash)
