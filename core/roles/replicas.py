"""Keeping every revealed update fetchable when its trainer's IPFS peer goes away.

An update's bytes start on one peer: its trainer's. The rule that keeps a round whole:

- **the aggregator and the verifiers pin each update as soon as its reveal is on chain**
  (:class:`Prefetcher`, on every block of the reveal window, not when the window closes), so
  within a poll or two the bytes are on three peers, and whatever fetches later gets them
  over bitswap from any of them;
- **a trainer follows its update until another peer holds all of it**
  (:func:`sent_snapshot` before the reveal, :func:`held_by` after), reports it (phase
  ``replicated``), and does not count the round as done before that;
- an update **no peer serves** within the fetch timeout, tried on every block since its
  reveal, is excluded as ``unavailable`` when the round is aggregated: its trainer is not paid
  (and not slashed: it committed and revealed; a dead disk is not a free ride that pays).

Pins do not pile up: once round r is finalized, the updates of rounds before r - 1 are
unpinned (:meth:`Prefetcher.release`; round r - 1's stay for one more round, since a copy of
one of them in round r+1 is reported with it as evidence). ``keep_rounds`` keeps more.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..errors import StorageError
from .chainview import RoundView, UpdateView

KEEP_ROUNDS = 2
"""Finalized rounds whose updates stay pinned by default, and the fewest allowed: the previous
round's updates are evidence against a copy in the next."""

log = logging.getLogger(__name__)

PIN_TIMEOUT_S = 10.0
"""How long one attempt to fetch and pin an update may take (Kubo's own request timeout)."""
RETRY_S = 3.0
"""Pause before a failed update is tried again."""


def sent_snapshot(store: Any) -> dict[str, int] | None:
    """Bytes this peer has sent to each swarm peer so far, or None if the store cannot tell
    (then the trainer does not follow replication)."""
    probe = getattr(store, "sent_to_peers", None)
    if probe is None:
        return None
    try:
        sent: dict[str, int] = probe()
    except StorageError as exc:
        log.warning("cannot read the bitswap ledger (%s): not following replication", exc)
        return None
    return sent


def held_by(store: Any, size: int, before: dict[str, int]) -> str | None:
    """The first peer that has been sent at least ``size`` bytes since ``before`` (taken just
    before the reveal, when no one else could know the content's address), or None."""
    now = sent_snapshot(store)
    if now is None:
        return None
    for peer, sent in sorted(now.items()):
        if sent - before.get(peer, 0) >= size:
            return peer
    return None


@dataclass
class Prefetcher:
    """Pins revealed updates on this role's own IPFS peer as soon as they are on chain."""

    store: Any
    pinned: set[str] = field(default_factory=set)
    failures: dict[str, int] = field(default_factory=dict)
    _next_try: dict[str, float] = field(default_factory=dict)
    _held: dict[int, int] = field(default_factory=dict)
    _last_round: dict[str, int] = field(default_factory=dict)
    """The latest round each pinned content was revealed for (a copy may reappear later)."""
    keep_rounds: int | None = KEEP_ROUNDS
    """Finalized rounds whose updates stay pinned (at least 2: see the module's docs); None
    keeps every one pinned."""

    def round(self, chain: Any, task_id: int, current: RoundView | None) -> None:
        """Pin the open round's revealed updates not pinned yet (the update map is read only
        when the round has more reveals than this peer holds)."""
        if current is None or current.status != "Open" or current.submissions == 0:
            return
        if self._held.get(current.index, 0) >= current.submissions:
            return
        index = current.index
        mine = [u for u in chain.updates(task_id, index).values() if u.round == index]
        self.run(mine)
        self._held[current.index] = sum(1 for u in mine if u.content.cid in self.pinned)

    def run(self, updates: Iterable[UpdateView], *, budget_s: float = PIN_TIMEOUT_S) -> None:
        """Try each revealed, not yet pinned update once (those that failed lately wait
        :data:`RETRY_S`); spends at most about ``budget_s`` plus one attempt per call."""
        started = time.monotonic()
        for update in updates:
            if time.monotonic() - started > budget_s:
                return
            self.ensure(update.content.cid, force=False, round_index=update.round)

    def ensure(self, cid: str, *, force: bool = True, round_index: int | None = None) -> bool:
        """Pin ``cid`` unless already pinned; False if no peer served it in time. ``force``
        tries even if it failed a moment ago (the last attempt, at aggregation). The pin is
        kept until :meth:`release` passes ``round_index`` (the round it was revealed for)."""
        if round_index is not None:
            self._last_round[cid] = max(round_index, self._last_round.get(cid, round_index))
        if cid in self.pinned:
            return True
        if not force and time.monotonic() < self._next_try.get(cid, 0.0):
            return False
        try:
            self.store.pin(cid, timeout_s=PIN_TIMEOUT_S)
        except StorageError as exc:
            self.failures[cid] = self.failures.get(cid, 0) + 1
            self._next_try[cid] = time.monotonic() + RETRY_S
            log.info("update %s not fetched yet (attempt %d): %s", cid, self.failures[cid], exc)
            return False
        self.pinned.add(cid)
        return True

    def release(self, finalized: int) -> list[str]:
        """After round ``finalized`` is finalized: unpin the updates last revealed for a round
        more than ``keep_rounds - 1`` rounds before it; returns what was unpinned. A store
        that cannot unpin, or a failed unpin, keeps the pin (tried again next time). With
        ``keep_rounds`` None nothing is unpinned."""
        if self.keep_rounds is None:
            return []
        before = finalized - max(self.keep_rounds, KEEP_ROUNDS) + 1
        unpin = getattr(self.store, "unpin", None)
        released: list[str] = []
        for cid, last in sorted(self._last_round.items()):
            if last >= before or unpin is None:
                continue
            if cid in self.pinned:
                try:
                    unpin(cid)
                except StorageError as exc:
                    log.info("could not unpin %s yet: %s", cid, exc)
                    continue
                self.pinned.discard(cid)
                released.append(cid)
            del self._last_round[cid]
            self.failures.pop(cid, None)
            self._next_try.pop(cid, None)
        for index in [i for i in self._held if i < before]:
            del self._held[index]
        return released

    def unavailable_reason(self, cid: str) -> str:
        tries = self.failures.get(cid, 0)
        return (
            f"content {cid} unavailable: no IPFS peer served it within {PIN_TIMEOUT_S:.0f} s "
            f"({tries} attempts since its reveal); excluded, not paid"
        )
