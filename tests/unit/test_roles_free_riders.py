"""Free riders against the in-memory stand-ins: a zero delta, random noise and a copy of an
earlier round's update are excluded by the aggregator and earn nothing; a verifier challenges
an aggregate that includes one. (The detection rule itself: tests/unit/test_free_riders.py.)"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from decentralml.core.chain.decentralml import AggregateClaim
from decentralml.core.fl.weights import UpdateOrigin

from .roles_world import SHAPES, TASK, FakeChain, World, drive, encode, make_world


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path)


def rider(world: World, name: str) -> None:
    world.ledger.profiles.add(name)
    FakeChain(world.ledger, name).task_call("join_task", TASK)


def inject(world: World, who: str, delta: dict[str, np.ndarray]) -> None:
    index = world.ledger.round.index if world.ledger.round else 0
    data = encode(delta, UpdateOrigin(TASK, index, who))
    world.ledger.force_update(who, world.store.add_bytes(data).ref, 10)


def orthogonal_noise(world: World, honest: list[str]) -> dict[str, np.ndarray]:
    """Random values with no component along any honest update (read from the honest
    trainers' own state directories, where the committed updates wait for the reveal)."""
    deltas = [
        world.learning.decode((world.tmp / f"state-trainer-{t}" / "update-r0.npz").read_bytes())
        for t in honest
    ]
    rows = np.array([np.concatenate([d[k].ravel() for k in SHAPES]) for d in deltas], np.float64)
    noise = np.random.default_rng(5).normal(0.0, 1.0, rows.shape[1])
    noise -= rows.T @ np.linalg.solve(rows @ rows.T, rows @ noise)  # no part along any of them
    return {
        "dense/kernel": noise[:6].reshape(3, 2).astype(np.float32),
        "dense/bias": noise[6:].astype(np.float32),
    }


def open_round(world: World, honest: list, blocks: int = 1) -> None:
    world.ledger.aggregator = "agg"
    drive(world, honest, 1)
    FakeChain(world.ledger, "agg").task_call("start_round", TASK)


@pytest.mark.parametrize("kind", ["zero", "noise"])
def test_zero_and_noise_updates_are_excluded_and_unpaid(world: World, kind: str) -> None:
    world.ledger.total_rounds = 1
    honest = [world.trainer(t) for t in ("t1", "t2", "t3")]
    rider(world, "bad")
    open_round(world, honest)
    drive(world, honest, 3)  # the honest trainers commit; reveals wait for "bad"
    delta = (
        {k: np.zeros(s, np.float32) for k, s in SHAPES.items()}
        if kind == "zero"
        else orthogonal_noise(world, ["t1", "t2", "t3"])
    )
    inject(world, "bad", delta)
    world.ledger.aggregator = None
    drive(world, [*honest, world.aggregator(), world.verifier()], 40)
    assert world.ledger.finalized == [(0, "Succeeded")]
    record = world.journal("aggregator", "agg").round(0)
    assert sorted(record["included"]) == ["t1", "t2", "t3"]
    (bad,) = [r for r in record["rejected"] if r[0] == "bad"]
    assert bad[1].startswith(f"free rider ({kind})")
    assert "bad" not in world.ledger.paid and all(
        world.ledger.paid[t] > 0 for t in record["included"]
    )
    assert not world.phases(phase="challenged")
    # The bonded verifier reports a zero delta on chain (with the base as what it returns);
    # noise is excluded but not reported (it is judged against the others, not proven).
    reports = [(r[1], r[2], r[3]) for r in world.ledger.reports]
    if kind == "zero":
        assert reports == [("bad", "ver", "zero")]
        assert world.ledger.reports[0][4] == world.ledger.files.initial_weights.cid
    else:
        assert reports == []
    assert world.ledger.attestations["ver"][2] is True


def test_a_copy_of_an_earlier_rounds_update_is_excluded(world: World) -> None:
    world.ledger.total_rounds = 2
    honest = [world.trainer(t) for t in ("t1", "t2", "t3")]
    rider(world, "bad")
    agg, ver = world.aggregator(), world.verifier()
    # Round 0: bad sends nothing (a no-show); everyone else is honest.
    for _ in range(40):
        drive(world, [*honest, agg, ver], 1)
        if world.ledger.round is not None and world.ledger.round.index == 1:
            break
    assert world.ledger.finalized[:1] == [(0, "Succeeded")]
    assert world.ledger.round is not None and world.ledger.round.index == 1
    # Round 1: bad re-sends t1's round-0 update under its own name (a fresh origin).
    t1_round0 = world.journal("trainer", "t1").round(0)["update"]["cid"]
    previous = world.learning.decode(world.store.blobs[t1_round0])
    inject(world, "bad", previous)
    drive(world, [*honest, agg, ver], 40)
    assert world.ledger.finalized == [(0, "Succeeded"), (1, "Succeeded")]
    record = world.journal("aggregator", "agg").round(1)
    (bad,) = [r for r in record["rejected"] if r[0] == "bad"]
    assert bad[1].startswith("free rider (copy)") and "previous round" in bad[1]
    assert "bad" not in world.ledger.paid
    assert [(r[0], r[1], r[3]) for r in world.ledger.reports] == [(1, "bad", "copy")]
    # The evidence is the copied update itself: the two content references prove the flag.
    assert world.ledger.reports[0][4] == t1_round0


def included_zero_delta(world: World) -> None:
    world.ledger.total_rounds = 1
    honest = [world.trainer(t) for t in ("t1", "t2")]
    rider(world, "bad")
    open_round(world, honest)
    inject(world, "bad", {k: np.zeros(s, np.float32) for k, s in SHAPES.items()})
    drive(world, honest, 4)
    weights = world.store.add_bytes(b"whatever").ref
    FakeChain(world.ledger, "agg").submit_aggregate(
        TASK, AggregateClaim(0, weights, ("t1", "t2", "bad"), 0.1, 0.9)
    )


def test_an_aggregate_including_a_zero_delta_is_challenged(world: World) -> None:
    included_zero_delta(world)
    drive(world, [world.verifier()], 2)
    challenged = world.phases("verifier", "challenged")
    assert challenged and "included a free rider, bad" in challenged[0].message
    # It attested disagreement (all-zero digest) first; one verifier is below the threshold.
    assert world.ledger.attestations["ver"] == (0, bytes(32), False)
    assert ("bad", "ver", "zero") in [(r[1], r[2], r[3]) for r in world.ledger.reports]


def test_verifiers_at_the_threshold_fail_the_round_without_a_challenge(world: World) -> None:
    included_zero_delta(world)
    v1, v2 = world.verifier("v1"), world.verifier("v2")
    v1.start()
    v2.start()
    v2.step(world.ledger.block)  # v2 attests first: below the threshold, so it challenges
    v1.step(world.ledger.block)  # v1's attestation reaches it: the round fails
    assert world.ledger.round is not None and world.ledger.round.status == "Failed"
    assert world.ledger.round.disagreements == 2
    assert [c[1] for c in world.ledger.calls if c[0] == "challenge_aggregate"] == ["v2"]
    assert "verifiers decided" in world.phases("verifier", "attested")[-1].message
    assert world.journal("verifier", "v1").round(0)["verdict"].startswith("rejected by")
    drive(world, [v1, v2], 2)
    assert world.ledger.finalized == [(0, "Failed")]


def test_an_unbonded_verifier_still_challenges(world: World) -> None:
    world.ledger.verifier_funds["ver"] = False
    included_zero_delta(world)
    drive(world, [world.verifier()], 3)
    assert "ver" not in world.ledger.verifiers
    assert world.phases("verifier", "challenged")
    assert not world.ledger.attestations and not world.ledger.reports
    (error,) = [e for e in world.phases("verifier", "error") if "not bonded" in e.message]
    assert "InsufficientBalance" in error.message
