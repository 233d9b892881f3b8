"""The roles under faults, against the in-memory stand-ins of roles_world.py: resumes after a
crash at each step, restarts that never submit twice, stops, lost connections, fatal errors
and limits."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from decentralml.core.roles.chainview import content_ref
from decentralml.core.types import Receipt

from .roles_world import SHAPES, TASK, FakeChain, World, drive, encode, make_world


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path)


def crash_during(world: World, call: str, roles: list[Any], blocks: int = 10) -> None:
    """Drive ``roles`` until one of them makes the FakeChain ``call``, which crashes the
    process there (KeyboardInterrupt), as a kill would; the call never reaches the ledger."""

    def crash(*_: Any, **__: Any) -> Receipt:
        raise KeyboardInterrupt

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(FakeChain, call, crash)
        with pytest.raises(KeyboardInterrupt):
            drive(world, roles, blocks)


def test_trainer_resumes_after_a_crash_between_commit_and_reveal(world: World) -> None:
    world.ledger.total_rounds = 1
    world.ledger.min_trainers = 1
    agg = world.aggregator()
    t1 = world.trainer("t1")
    # Crash right before the reveal: the commitment is on chain, the update only on disk.
    crash_during(world, "reveal_update", [t1, agg])
    assert world.journal("trainer", "t1").round(0)["status"] == "committed"
    assert "t1" in world.ledger.commitments and "t1" not in world.ledger.updates
    # (the bytes went to the store in the reveal window, just before the crash)
    assert world.learning.trained == 1
    restarted = world.trainer("t1")
    drive(world, [restarted, agg], 20)
    assert world.learning.trained == 1, "the committed update is reused, not trained again"
    assert [c for c in world.ledger.calls if c[0] == "commit_update"] == [("commit_update", "t1")]
    assert [c for c in world.ledger.calls if c[0] == "reveal_update"] == [("reveal_update", "t1")]
    assert world.ledger.finalized == [(0, "Succeeded")]


def test_trainer_crashed_before_its_commitment_landed_commits_once(world: World) -> None:
    world.ledger.total_rounds = 1
    world.ledger.min_trainers = 1
    agg = world.aggregator()
    t1 = world.trainer("t1")
    crash_during(world, "commit_update", [t1, agg])
    assert world.journal("trainer", "t1").round(0)["status"] == "committing"
    restarted = world.trainer("t1")
    drive(world, [restarted, agg], 20)
    assert world.learning.trained == 1
    assert [c for c in world.ledger.calls if c[0] == "commit_update"] == [("commit_update", "t1")]
    assert world.ledger.finalized == [(0, "Succeeded")]


def test_trainer_that_lost_its_salt_says_so_and_the_round_goes_on(world: World) -> None:
    world.ledger.total_rounds = 1
    world.ledger.min_trainers = 1
    world.ledger.round_length = 4
    world.ledger.profiles.add("idle")
    FakeChain(world.ledger, "idle").task_call("join_task", TASK)
    world.ledger.aggregator = "agg"
    t1 = world.trainer("t1")
    drive(world, [t1], 1)
    FakeChain(world.ledger, "agg").task_call("start_round", TASK)
    drive(world, [t1], 2)
    assert "t1" in world.ledger.commitments
    update = content_ref(world.journal("trainer", "t1").round(0)["update"])
    assert update.cid not in world.store.blobs, "nothing is published before the reveal"
    # The state directory is lost between the commitment and the reveal window.
    for path in (world.tmp / "state-trainer-t1").iterdir():
        path.unlink()
    again = world.trainer("t1")
    drive(world, [again, world.aggregator()], 20)
    rejected = [e.message for e in world.phases("trainer", "rejected")]
    assert any("cannot be revealed" in m for m in rejected), rejected
    assert ("reveal_update", "t1") not in world.ledger.calls
    # Nothing revealed: the round fails at its reveal end and nobody is paid for it.
    assert world.ledger.finalized == [(0, "Failed")] and world.ledger.paid == {}


def test_trainer_restarted_after_submitting_never_submits_twice(world: World) -> None:
    world.ledger.total_rounds = 1
    world.ledger.min_trainers = 1
    world.ledger.round_length = 4
    # A second participant that never commits keeps the reveal window shut until the deadline.
    world.ledger.profiles.add("idle")
    FakeChain(world.ledger, "idle").task_call("join_task", TASK)
    world.ledger.aggregator = "agg"
    t1 = world.trainer("t1")
    drive(world, [t1], 1)
    FakeChain(world.ledger, "agg").task_call("start_round", TASK)
    drive(world, [t1], 8)
    assert "t1" in world.ledger.updates
    # Lose the journal entirely: the chain's Updates entry is the source of truth.
    for path in (world.tmp / "state-trainer-t1").iterdir():
        path.unlink()
    again = world.trainer("t1")
    again.start()
    again.step(world.ledger.block)
    assert [c for c in world.ledger.calls if c[0] == "reveal_update"] == [("reveal_update", "t1")]
    assert [c for c in world.ledger.calls if c[0] == "commit_update"] == [("commit_update", "t1")]
    assert again.journal.round(0)["status"] == "submitted"
    assert world.learning.trained == 1


def test_aggregator_resumes_with_its_uploaded_aggregate(world: World) -> None:
    world.ledger.total_rounds = 1
    world.ledger.min_trainers = 1
    agg = world.aggregator()
    t1 = world.trainer("t1")
    crash_during(world, "submit_aggregate", [t1, agg])
    uploaded = world.journal("aggregator", "agg").round(0)["weights"]
    drive(world, [world.aggregator()], 10)
    assert world.ledger.last_weights is not None
    assert world.ledger.last_weights.cid == uploaded["cid"]
    assert [c for c in world.ledger.calls if c[0] == "submit_aggregate"] == [
        ("submit_aggregate", "agg")
    ]


def test_a_dataset_that_does_not_match_the_schema_stops_only_that_trainer(world: World) -> None:
    bad = world.trainer("bad")
    bad.data_path.write_text("wrong columns")
    assert bad.run() == 1
    assert world.phases("trainer", "rejected")[0].message.startswith("dataset ")
    assert "DatasetMismatch" in world.phases("trainer", "error")[0].message
    assert "bad" not in world.ledger.participants, "nothing is staked with a bad dataset"
    assert world.learning.stopped == 1


def test_run_stops_cleanly_on_request_and_reports_done_when_the_task_ends(world: World) -> None:
    stop = threading.Event()
    trainer = world.trainer("t1")
    trainer.stop_event = stop
    codes: list[int] = []
    thread = threading.Thread(target=lambda: codes.append(trainer.run()))
    thread.start()
    # Let it join, then ask it to stop.
    for _ in range(200):
        if "t1" in world.ledger.participants:
            break
        stop.wait(0.01)
    stop.set()
    thread.join(5)
    assert not thread.is_alive()
    assert codes == [0]
    assert world.events[-1].phase == "stopped"
    world.ledger.status = "Completed"
    world.events.clear()
    assert world.trainer("t1").run() == 0
    assert world.events[-1].phase == "done"


def test_connection_loss_is_waited_out(world: World) -> None:
    """A node restart (NodeUnreachable) is reported as waiting and retried, not fatal."""
    from decentralml.core.errors import NodeUnreachable

    world.ledger.status = "Completed"
    trainer = world.trainer("t1")
    calls = {"n": 0}
    original = trainer.chain.best_block

    def flaky() -> int:
        calls["n"] += 1
        if calls["n"] <= 2:
            raise NodeUnreachable("node at ws://x is unreachable")
        return original()

    trainer.chain.best_block = flaky  # type: ignore[method-assign]
    trainer.start = lambda: None  # type: ignore[method-assign]
    assert trainer.run() == 0
    phases = [e.phase for e in world.events]
    assert phases.count("waiting") == 1 and phases[-1] == "done"


def test_unknown_task_is_a_clear_error(world: World) -> None:
    trainer = world.trainer("t1")
    trainer.task_id = 99
    assert trainer.run() == 1
    assert "task 99 does not exist" in world.events[-1].message


def test_trainer_rounds_limit(world: World) -> None:
    world.ledger.total_rounds = 3
    world.ledger.min_trainers = 1
    t1 = world.trainer("t1", max_rounds=1)
    finished = drive(world, [t1, world.aggregator()], 30)
    assert 0 in finished
    assert world.journal("trainer", "t1").rounds()[0]["status"] == "submitted"
    assert sum(1 for c in world.ledger.calls if c == ("reveal_update", "t1")) == 1


def test_tamper_changes_the_bytes() -> None:
    from decentralml.core.roles.aggregator import tamper_weights

    w = {k: np.zeros(s, np.float32) for k, s in SHAPES.items()}
    assert encode(tamper_weights(w)) != encode(w)
    assert tamper_weights(w)["dense/kernel"].dtype == np.float32
