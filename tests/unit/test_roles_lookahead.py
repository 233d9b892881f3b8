"""The aggregator's look-ahead over pipelined rounds, on scripted chain views: while the pending
round's challenge window runs, the open round's aggregate is prepared, and once the window is
over it goes with the pending round's finalization (one block); otherwise the pending round is
finalized alone and nothing is prepared on a base that is not the pending aggregate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from decentralml.core.chain.decentralml import AggregateClaim
from decentralml.core.errors import ExtrinsicFailed
from decentralml.core.roles.aggregator import Aggregator
from decentralml.core.roles.chainview import AggregateView, RoundView
from decentralml.core.types import ContentRef, Receipt

from .roles_world import FakeChain, World, make_world

WINDOW = 3  # the ledger's challenge window


def ref(byte: int) -> ContentRef:
    return ContentRef(f"bafy{byte:02x}", bytes([byte]) * 32, 100)


def view(index: int, base: ContentRef, status: str, **kw: Any) -> RoundView:
    fields: dict[str, Any] = {
        "index": index,
        "base": base,
        "opened_at": 1,
        "deadline": 5,
        "submissions": 0,
        "status": status,
        "aggregate": None,
        "challenger": None,
        "proposal": None,
        "reveal_end": 8,
        "expected": 2,
    }
    return RoundView(**{**fields, **kw})


class ScriptedChain(FakeChain):
    """The ledger's task, with the pending and open rounds set by the test; records calls."""

    def __init__(self, world: World) -> None:
        super().__init__(world.ledger, "agg")
        self.pending_view: RoundView | None = None
        self.open_view: RoundView | None = None
        self.sent: list[tuple[Any, ...]] = []

    def pending(self, task_id: int) -> RoundView | None:
        return self.pending_view

    def round(self, task_id: int) -> RoundView | None:
        return self.open_view

    def finalize(self, task_id: int, round_index: int) -> Receipt:
        self.sent.append(("finalize", round_index))
        self.pending_view = None
        return self.ledger.receipt("finalize_round")

    def finalize_then_submit(
        self, task_id: int, pending: int, claim: AggregateClaim
    ) -> tuple[Receipt | ExtrinsicFailed, Receipt | ExtrinsicFailed]:
        self.sent.append(("finalize_then_submit", pending, claim.round))
        self.pending_view = None
        return self.ledger.receipt("finalize_round"), self.ledger.receipt("submit_aggregate")

    def updates(self, task_id: int, round_index: int) -> dict[str, Any]:
        return {}


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Aggregator, ScriptedChain]:
    world = make_world(tmp_path)
    world.ledger.aggregator = "agg"
    chain = ScriptedChain(world)
    role = world.aggregator()
    role.chain = chain
    role.journal.set_meta("bonded", True)
    prepared: list[int] = []

    def prepare(task: Any, current: RoundView, record: dict[str, Any]) -> AggregateClaim:
        # The pending round counts as standing for the open round's aggregate.
        assert chain.pending_view is not None and task.last_round == chain.pending_view.index
        prepared.append(current.index)
        return AggregateClaim(current.index, ref(9), ("t1", "t2"), 0.1, 0.9)

    monkeypatch.setattr(role, "_prepare", prepare)
    role.prepared = prepared  # type: ignore[attr-defined]
    return role, chain


def aggregated(index: int, weights: ContentRef, submitted_at: int) -> RoundView:
    agg = AggregateView("agg", weights, ("t1", "t2"), b"\0" * 32, submitted_at, 0.1, 0.9)
    return view(index, ref(1), "Aggregated", aggregate=agg)


def test_the_open_rounds_aggregate_goes_with_the_pending_rounds_finalization(setup) -> None:
    role, chain = setup
    chain.pending_view = aggregated(0, ref(2), submitted_at=10)
    chain.open_view = view(1, ref(2), "Open", submissions=2, commitments=2, reveal_end=9)
    role.step(11)  # in the window: prepared, nothing sent
    assert role.prepared == [1] and chain.sent == []
    role.step(10 + WINDOW)  # the next block is past the window
    assert chain.sent == [("finalize_then_submit", 0, 1)]
    assert role.journal.round(1)["status"] == "submitted"
    assert role.journal.round(0)["finalized"] is True


def test_the_pending_round_is_finalized_alone_while_the_open_one_still_takes_reveals(
    setup,
) -> None:
    role, chain = setup
    chain.pending_view = aggregated(0, ref(2), submitted_at=10)
    chain.open_view = view(1, ref(2), "Open", submissions=1, commitments=2, reveal_end=20)
    role.step(10 + WINDOW)
    assert chain.sent == [("finalize", 0)] and role.prepared == []


def test_nothing_is_prepared_on_a_base_that_is_not_the_pending_aggregate(setup) -> None:
    role, chain = setup
    chain.pending_view = aggregated(0, ref(2), submitted_at=10)
    chain.open_view = view(1, ref(3), "Open", submissions=2, commitments=2, reveal_end=9)
    role.step(11)
    assert role.prepared == [] and chain.sent == []
    role.step(10 + WINDOW)
    # Finalized alone (the scripted open round is then past its aggregation period: failed).
    assert chain.sent[0] == ("finalize", 0)
    assert ("finalize_then_submit", 0, 1) not in chain.sent


def test_a_failed_pending_round_is_finalized_at_once(setup) -> None:
    role, chain = setup
    chain.pending_view = view(0, ref(1), "Failed")
    role.step(5)
    assert chain.sent == [("finalize", 0)] and role.prepared == []
