"""The roles' logic against the in-memory stand-ins of roles_world.py: whole federations that
run and pay by themselves, bad updates left out with a reason, tampered or invalid aggregates
challenged with evidence.

tests/e2e/test_federation.py runs the same roles on the real node, Kubo and TFF."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from decentralml.core.chain.decentralml import AggregateClaim
from decentralml.core.fl.weights import UpdateOrigin
from decentralml.core.roles.base import Role
from decentralml.core.roles.chainview import (
    ParticipantView,
    UpdateView,
)

from .roles_world import SHAPES, TASK, FakeChain, FakeStore, World, drive, encode, make_world


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path)


def test_a_federation_runs_by_itself_and_pays_pro_rata(world: World) -> None:
    trainers = [world.trainer("t1", 10, 1.0), world.trainer("t2", 30, 1.0)]
    roles: list[Role] = [*trainers, world.aggregator(), world.verifier()]
    finished = drive(world, roles, 60)
    lg = world.ledger
    assert lg.status == "Completed"
    assert lg.finalized == [(0, "Succeeded"), (1, "Succeeded")]
    assert finished == {0, 1, 2, 3}
    # 900 after the aggregator's 10% fee, split 1:3 by samples, twice.
    assert lg.paid == {"agg": 200, "t1": 2 * 225, "t2": 2 * 675}
    # Each trainer trained and submitted exactly once per round.
    assert [c for c in lg.calls if c[0] == "reveal_update"].count(("reveal_update", "t1")) == 2
    assert world.learning.trained == 4
    # The verifier recomputed both aggregates and found them valid; nothing was challenged.
    verified = world.phases("verifier", "verified")
    assert [e.round for e in verified] == [0, 1]
    assert all(e.accuracy is not None and e.samples == 50 for e in verified)
    assert not world.phases(phase="challenged")
    # Held-out loss falls as the model moves towards the trainers' common target.
    assert verified[1].loss is not None and verified[0].loss is not None
    assert verified[1].loss < verified[0].loss
    # Every role reported its progress with the contract's phases.
    assert {e.phase for e in world.phases("trainer")} >= {
        "joining",
        "fetching",
        "training",
        "uploading",
        "submitting",
        "submitted",
        "done",
    } - {"done"}
    assert {"aggregating", "aggregated", "finalized"} <= {
        e.phase for e in world.phases("aggregator")
    }
    assert world.journal("aggregator", "agg").meta("bonded") is True


def corrupt_update(world: World, who: str, kind: str, round_index: int = 0) -> None:
    """Replace ``who``'s (not yet submitted) update by a bad one, committed and revealed as is."""
    good = {k: np.ones(s, np.float32) for k, s in SHAPES.items()}
    mine = UpdateOrigin(TASK, round_index, who)
    if kind == "nan":
        good["dense/bias"][0] = np.nan
        ref = world.store.add_bytes(encode(good)).ref
    elif kind == "shape":
        good["dense/kernel"] = np.ones((2, 2), np.float32)
        ref = world.store.add_bytes(encode(good)).ref
    elif kind == "dtype":
        good["dense/bias"] = np.ones(2, np.float64)
        ref = world.store.add_bytes(encode(good)).ref
    elif kind == "garbage":
        ref = world.store.add_bytes(b"\x00not weights").ref
    elif kind == "digest":
        ref = world.store.add_bytes(encode(good)).ref
        world.store.blobs[ref.cid] = encode({k: v * 2 for k, v in good.items()})
    elif kind == "missing":
        ref = FakeStore.ref_of(b"never uploaded")
    elif kind == "copy":
        # A rival's revealed bytes (they name t1 as their maker) re-submitted as bad's own.
        ref = world.store.add_bytes(encode(good, UpdateOrigin(TASK, round_index, "t1"))).ref
    elif kind == "stale":
        ref = world.store.add_bytes(encode(good, UpdateOrigin(TASK, round_index - 1, who))).ref
    elif kind == "no-origin":
        ref = world.store.add_bytes(encode(good)).ref
    else:
        raise AssertionError(kind)
    assert mine.trainer == who
    world.ledger.force_update(who, ref, 10)


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("nan", "NaN"),
        ("shape", "wrong shape"),
        ("dtype", "wrong shape or dtype"),
        ("garbage", "malformed"),
        ("digest", "digest mismatch"),
        ("missing", "unavailable"),
        ("copy", "made by t1"),
        ("stale", "round -1"),
        ("no-origin", "names no origin"),
    ],
)
def test_bad_updates_are_left_out_with_a_reason_and_the_round_goes_on(
    world: World, kind: str, reason: str
) -> None:
    world.ledger.total_rounds = 1
    good = [world.trainer("t1"), world.trainer("t2")]
    agg, ver = world.aggregator(), world.verifier()
    # "bad" joins like a trainer but its update is broken.
    world.ledger.profiles.add("bad")
    FakeChain(world.ledger, "bad").task_call("join_task", TASK)
    for role in (*good, agg, ver):
        role.start()
    # Open the round and let the bad trainer submit first.
    for role in (agg, *good):
        role.step(world.ledger.block)
    world.ledger.block += 1
    agg.step(world.ledger.block)
    assert world.ledger.round is not None
    corrupt_update(world, "bad", kind)
    drive(world, [*good, agg, ver], 40)
    assert world.ledger.finalized == [(0, "Succeeded")]
    rejected = world.phases("aggregator", "rejected")
    assert len(rejected) == 1 and rejected[0].message.startswith("bad: ")
    assert reason in rejected[0].message
    record = world.journal("aggregator", "agg").round(0)
    assert record["included"] == ["t1", "t2"]
    assert record["rejected"][0][0] == "bad"
    assert "bad" not in world.ledger.paid
    # The verifier agrees with an aggregate that left the bad update out.
    assert world.phases("verifier", "verified") and not world.phases(phase="challenged")


def test_update_from_a_non_participant_is_refused(world: World) -> None:
    from decentralml.core.roles.combine import Rejected, check_update

    base = {k: np.zeros(s, np.float32) for k, s in SHAPES.items()}
    ref = world.store.add_bytes(encode(base)).ref
    update = UpdateView("stranger", 0, ref, 5, 0.1, 0.9, 3)
    result = check_update(world.store, world.learning, base, update, 0, {}, task_id=TASK)
    assert isinstance(result, Rejected) and "not a participant" in result.reason
    other_round = UpdateView("t1", 1, ref, 5, 0.1, 0.9, 3)
    participants = {"t1": ParticipantView(0, False)}
    result = check_update(
        world.store, world.learning, base, other_round, 0, participants, task_id=TASK
    )
    assert isinstance(result, Rejected) and "round 1" in result.reason


def test_tampered_aggregate_is_challenged_with_evidence(world: World) -> None:
    world.ledger.total_rounds = 1
    roles: list[Role] = [
        world.trainer("t1"),
        world.trainer("t2"),
        world.aggregator(tamper=True),
        world.verifier(),
    ]
    drive(world, roles, 20)
    assert world.ledger.round is not None and world.ledger.round.status == "Challenged"
    assert ("challenge_aggregate", "ver") in world.ledger.calls
    challenged = world.phases("verifier", "challenged")
    assert len(challenged) == 1 and "differs from the published" in challenged[0].message
    record = world.journal("verifier", "ver").round(0)
    assert record["verdict"] == "challenged" and record["proposal"] == 7
    evidence = json.loads(world.store.blobs[record["evidence"]["cid"]])
    assert evidence["expected_sha256"] != evidence["published"]["sha256"]
    # The recomputed aggregate is on the store, so anyone can check the claim.
    assert evidence["recomputed"]["sha256"] == evidence["expected_sha256"]
    # While challenged nobody can finalize; the aggregator waits.
    assert world.ledger.finalized == []


def test_aggregate_including_an_invalid_update_is_challenged(world: World) -> None:
    """A dishonest aggregator includes a NaN update: the verifier challenges."""
    world.ledger.total_rounds = 1
    t1 = world.trainer("t1")
    ver = world.verifier()
    world.ledger.profiles.add("bad")
    FakeChain(world.ledger, "bad").task_call("join_task", TASK)
    world.ledger.aggregator = "agg"
    drive(world, [t1], 1)
    FakeChain(world.ledger, "agg").task_call("start_round", TASK)
    corrupt_update(world, "bad", "nan")
    drive(world, [t1], 3)  # t1 commits; everyone due has, so it reveals at once
    assert "t1" in world.ledger.updates
    weights = world.store.add_bytes(b"whatever").ref
    FakeChain(world.ledger, "agg").submit_aggregate(
        TASK, AggregateClaim(0, weights, ("t1", "bad"), 0.1, 0.9)
    )
    drive(world, [ver], 2)
    challenged = world.phases("verifier", "challenged")
    assert challenged and "invalid update from bad" in challenged[0].message


def test_the_previous_base_is_known_only_after_a_successful_round() -> None:
    """Server momentum needs round r-1's base; the chain keeps it in ``last_result`` only for
    the latest successful round, so after a failed round there is none (momentum restarts)."""
    from decentralml.core.roles.chainview import TaskView

    base = {"cid": "bafkreiprev", "sha256": "00" * 32, "size": 10}
    fields = {
        "model": 0,
        "status": "Running",
        "trainer_count": 2,
        "next_round": 4,
        "aggregator": None,
        "terms": {
            "aggregation": "FedAvg",
            "total_rounds": 9,
            "min_trainers": 1,
            "round_length": 5,
            "challenge_window": 2,
            "reward_per_round": 10,
            "asset": "Native",
        },
        "last_result": {"round": 2, "weights": base, "base": base},
    }
    task = TaskView.parse(0, fields)
    assert task.previous_base(3) is not None and task.previous_base(3).cid == "bafkreiprev"
    assert task.previous_base(4) is None  # round 3 failed: no step to continue
    assert TaskView.parse(0, {**fields, "last_result": None}).previous_base(3) is None
