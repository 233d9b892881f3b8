"""Updates stay fetchable when their trainer's IPFS peer goes (core/roles/replicas.py): the
aggregator and the verifier pin each update as it is revealed, trainers follow their update
until another peer holds it, and an update nobody can serve is excluded and not paid.

tests/e2e/test_federation_net.py kills a real trainer's Kubo on the real network."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from decentralml.core.roles.replicas import Prefetcher, held_by

from .roles_world import FakeStore, World, drive, make_world


@pytest.fixture
def world(tmp_path: Path) -> World:
    w = make_world(tmp_path)
    w.ledger.total_rounds = 1
    return w


def test_revealed_updates_are_pinned_by_aggregator_and_verifier_and_trainers_see_it(
    world: World,
) -> None:
    trainers = [world.trainer("t1"), world.trainer("t2")]
    agg, ver = world.aggregator(), world.verifier()
    # The verifier steps before the aggregator, so it sees the round open with its reveals
    # (a fast aggregator may close it first: then the verifier fetches when it verifies).
    finished = drive(world, [*trainers, ver, agg], 60)
    assert world.ledger.finalized == [(0, "Succeeded")]
    assert finished == {0, 1, 2, 3}
    cids = {t: t.journal.round(0)["update"]["cid"] for t in trainers}
    assert set(cids.values()) <= agg.prefetch.pinned
    assert set(cids.values()) <= ver.prefetch.pinned
    for t in trainers:
        record = t.journal.round(0)
        assert record["held_by"] == "peer", record
        phases = [e.phase for e in world.phases("trainer") if e.message.find(cids[t]) >= 0]
        # Revealed first, then seen held by another peer.
        assert phases.index("replicated") > phases.index("submitted"), phases
    assert world.ledger.paid.keys() == {"agg", "t1", "t2"}


def test_an_update_no_peer_can_serve_is_excluded_unpaid_and_the_round_goes_on(
    world: World,
) -> None:
    trainers = [world.trainer("t1"), world.trainer("t2"), world.trainer("t3")]
    agg, ver = world.aggregator(), world.verifier()
    victim = trainers[2]
    reveal = victim.chain.reveal_update

    def reveal_then_lose_the_peer(*args: Any, **kw: Any) -> Any:
        receipt = reveal(*args, **kw)
        # Its Kubo is killed the moment the reveal is on chain, before anyone fetched it.
        world.store.blobs.pop(args[2].cid)
        return receipt

    victim.chain.reveal_update = reveal_then_lose_the_peer  # type: ignore[method-assign]
    drive(world, [*trainers, agg, ver], 60)
    assert world.ledger.finalized == [(0, "Succeeded")]
    record = agg.journal.round(0)
    assert record["included"] == ["t1", "t2"]
    [(who, reason)] = record["rejected"]
    assert who == "t3" and "unavailable" in reason and "not paid" in reason, reason
    assert "t3" not in world.ledger.paid and {"t1", "t2"} <= world.ledger.paid.keys()
    # The verifier agrees with an aggregate that left it out; nothing is challenged.
    assert not world.phases(phase="challenged")
    assert [e.round for e in world.phases("verifier", "verified")] == [0]
    # The trainer stopped following once the round was aggregated, and says so.
    assert victim.journal.round(0)["held_by"] == "unconfirmed"
    assert any("moved on" in e.message for e in world.phases("trainer", "waiting"))


def test_held_by_needs_one_peer_sent_the_whole_update_after_the_reveal() -> None:
    class Ledgers:
        def __init__(self, sent: dict[str, int]) -> None:
            self.sent = sent

        def sent_to_peers(self) -> dict[str, int]:
            return self.sent

    before = {"a": 500, "b": 0}
    # 400 bytes to each of two peers is not one peer holding 600 bytes.
    assert held_by(Ledgers({"a": 900, "b": 400}), 600, before) is None
    assert held_by(Ledgers({"a": 1100, "b": 400}), 600, before) == "a"
    # A peer connected only after the reveal counts from zero.
    assert held_by(Ledgers({"a": 500, "c": 600}), 600, before) == "c"


def test_a_failed_pin_is_retried_later_not_on_every_block(world: World) -> None:
    calls: list[str] = []

    class Flaky(FakeStore):
        def pin(self, cid: str, *, timeout_s: float | None = None) -> None:
            calls.append(cid)
            super().pin(cid, timeout_s=timeout_s)

    prefetch = Prefetcher(Flaky())
    assert not prefetch.ensure("bafy-missing", force=False)
    assert not prefetch.ensure("bafy-missing", force=False)  # within the retry pause: no call
    assert calls == ["bafy-missing"]
    assert not prefetch.ensure("bafy-missing")  # the last attempt, at aggregation, always tries
    assert calls == ["bafy-missing"] * 2
    assert "2 attempts" in prefetch.unavailable_reason("bafy-missing")


def test_old_rounds_are_unpinned_but_not_a_copy_revealed_again() -> None:
    store = FakeStore()
    for cid in ("bafy-r0", "bafy-r1", "bafy-r2", "bafy-again"):
        store.blobs[cid] = cid.encode()
    prefetch = Prefetcher(store)
    for cid, index in (("bafy-r0", 0), ("bafy-again", 0), ("bafy-r1", 1), ("bafy-r2", 2)):
        assert prefetch.ensure(cid, round_index=index)
    assert prefetch.ensure("bafy-again", round_index=2)  # a copy revealed in round 2
    assert prefetch.release(1) == []  # rounds 0 and 1 may still be evidence
    assert prefetch.release(2) == ["bafy-r0"]  # round 0 is two finalizations old
    assert store.pinned == {"bafy-r1", "bafy-r2", "bafy-again"}
    assert prefetch.release(2) == []  # once
    assert prefetch.release(4) == ["bafy-again", "bafy-r1", "bafy-r2"]
    assert store.pinned == set()


def test_a_failed_unpin_keeps_the_pin_and_is_tried_again() -> None:
    from decentralml.core.errors import StorageError

    class Stuck(FakeStore):
        broken = True

        def unpin(self, cid: str) -> None:
            if self.broken:
                raise StorageError("IPFS unpin failed: daemon busy")
            super().unpin(cid)

    store = Stuck()
    store.blobs["bafy-r0"] = b"x"
    prefetch = Prefetcher(store, keep_rounds=3)
    assert prefetch.ensure("bafy-r0", round_index=0)
    assert prefetch.release(2) == []  # kept: three finalized rounds
    assert prefetch.release(3) == [] and "bafy-r0" in store.pinned  # the unpin failed
    store.broken = False
    assert prefetch.release(3) == ["bafy-r0"] and store.pinned == set()


def test_an_archive_keeps_every_update_pinned() -> None:
    store = FakeStore()
    store.blobs["bafy-r0"] = b"x"
    prefetch = Prefetcher(store, keep_rounds=None)
    assert prefetch.ensure("bafy-r0", round_index=0)
    assert prefetch.release(10) == [] and store.pinned == {"bafy-r0"}


def test_keep_pins_is_a_number_of_rounds_or_all() -> None:
    from decentralml.core.cli import build_parser

    parser = build_parser()
    base = ["aggregate", "--task", "0", "--account", "//Bob"]
    assert parser.parse_args(base).keep_pins == 2
    assert parser.parse_args([*base, "--keep-pins", "5"]).keep_pins == 5
    assert parser.parse_args([*base, "--keep-pins", "all"]).keep_pins is None
    for bad in ("1", "many"):
        with pytest.raises(SystemExit):
            parser.parse_args([*base, "--keep-pins", bad])
    verify = ["verify", "--task", "0", "--account", "//Bob", "--data", "x.npz"]
    assert parser.parse_args([*verify, "--keep-pins", "all"]).keep_pins is None
