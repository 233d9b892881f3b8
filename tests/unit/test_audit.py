"""The fault audit's arithmetic (core/devstack/audit.py) on hand-written event lists; the
federation's fault tests run it on the real chain."""

from __future__ import annotations

from typing import Any

from decentralml.core.devstack.audit import UpdateLedger, balance_deltas, fees_paid, reconcile
from decentralml.core.types import ChainEvent

T = 3


def ev(pallet: str, name: str, **attrs: Any) -> ChainEvent:
    return ChainEvent(pallet, name, attrs, 10, 1)


def a_round() -> list[ChainEvent]:
    """Sponsor S pays trainers A and B and aggregator G from its held pool; C is slashed."""
    return [
        ev("Balances", "Withdraw", who="A", amount=7),  # A's fee
        ev("TransactionPayment", "TransactionFeePaid", who="A", actual_fee=7, tip=0),
        ev("DecentralMl", "UpdateRevealed", task_id=T, round=0, trainer="A", samples=5),
        ev("DecentralMl", "UpdateRevealed", task_id=T, round=0, trainer="B", samples=5),
        ev("DecentralMl", "AggregateSubmitted", task_id=T, round=0, aggregator="G", included=2),
        ev("Balances", "Held", who="C", amount=100, reason="Stake"),
        ev("Balances", "TransferOnHold", source="S", dest="A", amount=40, reason="Pool"),
        ev("DecentralMl", "RewardPaid", task_id=T, round=0, account="A", amount=40),
        ev("Balances", "TransferOnHold", source="S", dest="B", amount=40, reason="Pool"),
        ev("DecentralMl", "RewardPaid", task_id=T, round=0, account="B", amount=40),
        ev("Balances", "TransferOnHold", source="S", dest="G", amount=20, reason="Pool"),
        ev("DecentralMl", "RewardPaid", task_id=T, round=0, account="G", amount=20),
        ev("Balances", "TransferOnHold", source="C", dest="S", amount=10, reason="Stake"),
        ev("DecentralMl", "StakeSlashed", task_id=T, round=0, trainer="C", amount=10),
        ev("DecentralMl", "RoundFinalized", task_id=T, round=0, succeeded=True, paid=100),
        ev("DecentralMl", "RewardPaid", task_id=T + 1, round=0, account="Z", amount=1),
    ]


def test_balances_reconcile_when_the_events_say_what_moved() -> None:
    events = a_round()
    deltas, unknown = balance_deltas(events)
    assert unknown == []
    assert deltas == {"A": 33, "B": 40, "G": 20, "S": -90, "C": -10}
    before = {"A": 1000, "B": 1000, "G": 1000, "S": 5000, "C": 1000}
    after = {k: v + deltas[k] for k, v in before.items()}
    fees = fees_paid(events)
    assert fees == 7
    assert reconcile(before, after, deltas, (10_000, 9_993), fees) == []
    # A token appearing anywhere, or issuance moving by more than the fees, is reported.
    errors = reconcile(before, {**after, "B": after["B"] + 1}, deltas, (10_000, 9_993), fees)
    assert errors == ["B: free + held moved by 41, the events account for 40"]
    errors = reconcile(before, after, deltas, (10_000, 9_990), fees)
    assert errors == ["total issuance moved by -10, fees paid were 7 (burned)"]


def test_an_event_the_audit_cannot_account_for_is_an_error() -> None:
    _, unknown = balance_deltas([ev("Balances", "BalanceSet", who="A", free=5)])
    assert len(unknown) == 1 and "BalanceSet" in unknown[0]


def test_updates_are_neither_lost_nor_doubled_in_a_clean_round() -> None:
    book = UpdateLedger.of(a_round(), T)
    assert book.errors() == []
    assert sum(book.revealed.values()) == 2 and book.voided() == 0


def test_lost_and_doubled_updates_are_found() -> None:
    base = a_round()
    # D revealed but was neither paid nor excluded: lost.
    lost = [*base, ev("DecentralMl", "UpdateRevealed", task_id=T, round=0, trainer="D")]
    assert UpdateLedger.of(lost, T).errors() == [
        "round 0: D's revealed update was neither paid nor excluded"
    ]
    # ...unless the aggregator recorded why it left it out.
    assert UpdateLedger.of(lost, T).errors({0: ["D"]}) == []
    # Paid twice, and paid with no update.
    doubled = [
        *base,
        ev("DecentralMl", "RewardPaid", task_id=T, round=0, account="A", amount=40),
        ev("DecentralMl", "RewardPaid", task_id=T, round=0, account="E", amount=1),
    ]
    errors = UpdateLedger.of(doubled, T).errors()
    assert "round 0: A paid 2 times" in errors
    assert "round 0: E paid without a revealed update" in errors
    assert any("trainers paid, the aggregate included 2" in e for e in errors)


def test_a_failed_round_voids_its_updates_by_rule() -> None:
    events = [
        ev("DecentralMl", "UpdateRevealed", task_id=T, round=4, trainer="A"),
        ev("DecentralMl", "RoundFinalized", task_id=T, round=4, succeeded=False, paid=0),
    ]
    book = UpdateLedger.of(events, T)
    assert book.errors() == [] and book.voided() == 1


def test_aggregates_landing_in_the_finalizing_block_are_counted() -> None:
    from decentralml.core.devstack.fedfaults import aggregates_in_finalizing_block
    from decentralml.core.roles.events import ProgressEvent

    def event(phase: str, round_index: int, block: int) -> ProgressEvent:
        what = "round finalized Succeeded" if phase == "finalized" else "aggregate bafy"
        return ProgressEvent("aggregator", "5A", 0, round_index, phase, f"{what} in block {block}")

    events = [
        event("aggregated", 0, 10),
        event("finalized", 0, 19),
        event("aggregated", 1, 19),  # same block: counted
        event("finalized", 1, 30),
        event("aggregated", 2, 31),  # a block later: not
        ProgressEvent("aggregator", "5A", 0, 2, "waiting", "challenge window open"),
    ]
    assert aggregates_in_finalizing_block(events) == 1
    assert aggregates_in_finalizing_block(events[:2]) == 0
