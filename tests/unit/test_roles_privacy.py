"""The roles under a task's privacy term, on the in-memory ledger: secure aggregation end to end
(keys, masked updates, share documents, unmasking by the aggregator and again by the verifier,
a third of the trainers gone after submitting), and a DP-SGD trainer that refuses the round
that would pass its budget and leaves the task. The same flows on the real node, Kubo and TFF
are in tests/e2e/test_privacy.py."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from decentralml.core.fl.accounting import Spend, dpsgd_epsilon
from decentralml.core.fl.spec import DPSGDConfig, TrainingPlan
from decentralml.core.privacy import PrivacyTerms
from decentralml.core.roles.aggregator import Aggregator
from decentralml.core.roles.base import Role, RoleOptions
from decentralml.core.roles.chainview import ParticipantView, TaskView
from decentralml.core.roles.trainer import Trainer
from decentralml.core.roles.verifier import Verifier
from decentralml.core.types import ContentRef, Receipt

from .roles_world import TASK, FakeChain, FakeLearning, World, drive, fail, make_world

CLIP = 1_000_000  # the clip rule's bound in millionths: an L2 norm of 1.0


class PrivateChain(FakeChain):
    """The fake ledger's view with the task's privacy term and the secure-aggregation records
    (key documents, each round's members snapshotted when it opens, share documents)."""

    def task(self, task_id: int) -> TaskView | None:
        view = super().task(task_id)
        if view is None:
            return None
        lg = self.ledger
        return replace(
            view,
            aggregation={"NormClippedFedAvg": CLIP} if lg.privacy.mode == "secagg" else "FedAvg",
            max_trainers=10,
            privacy=lg.privacy,
        )

    def secagg_keys(self, task_id: int) -> dict[str, ContentRef]:
        return dict(self.ledger.keys)

    def round_members(self, task_id: int, round_index: int) -> list[str] | None:
        return self.ledger.members.get(round_index)

    def unmask_shares(self, task_id: int, round_index: int) -> dict[str, ContentRef]:
        return dict(self.ledger.shares.get(round_index, {}))

    def publish_keys(self, task_id: int, keys: ContentRef) -> Receipt:
        lg = self.ledger
        if self._address not in lg.participants:
            raise fail("NotParticipant")
        if self._address in lg.keys:
            raise fail("KeysAlreadyPublished")
        lg.keys[self._address] = keys
        return lg.receipt("publish_keys")

    def publish_shares(self, task_id: int, round_index: int, shares: ContentRef) -> Receipt:
        lg, r = self.ledger, self.ledger.round
        if r is None or r.index != round_index or r.status != "Open":
            raise fail("WrongRound")
        if self._address not in lg.members.get(round_index, []):
            raise fail("NotRoundMember")
        if not r.reveals_done(lg.now):
            raise fail("RoundStillOpen")
        lg.shares.setdefault(round_index, {})[self._address] = shares
        return lg.receipt("publish_shares")

    def commit_update(self, task_id: int, round_index: int, commitment: bytes) -> Receipt:
        members = self.ledger.members.get(round_index)
        if self.ledger.privacy.mode == "secagg" and self._address not in (members or []):
            raise fail("NotRoundMember")
        return super().commit_update(task_id, round_index, commitment)

    def task_call(self, call: str, task_id: int) -> Receipt:
        lg = self.ledger
        if call == "leave_task":
            me = lg.participants[self._address]
            lg.participants[self._address] = ParticipantView(me.first_round, True)
            lg.calls.append((call, self._address))
            return lg.receipt(call)
        receipt = super().task_call(call, task_id)
        if call == "start_round" and lg.round is not None:
            lg.members[lg.round.index] = sorted(m for m in lg.participants if m in lg.keys)
        return receipt


def private_world(tmp_path: Path, privacy: PrivacyTerms, **ledger: Any) -> World:
    world = make_world(tmp_path)
    lg = world.ledger
    for key, value in ledger.items():
        setattr(lg, key, value)
    lg.privacy = privacy  # type: ignore[attr-defined]
    lg.keys, lg.members, lg.shares = {}, {}, {}  # type: ignore[attr-defined]
    return world


def role(world: World, kind: type[Role], who: str, **kw: Any) -> Any:
    extra = {"data": world.data(who, kw.pop("samples", 10), 1.0)} if kind is not Aggregator else {}
    return kind(
        PrivateChain(world.ledger, who),
        world.store,
        world.learning,
        world.journal(kind.name, who),
        world.log(),
        RoleOptions(task=TASK, poll_s=0.01, **kw),
        **extra,
    )


class ClippedLearning(FakeLearning):
    """The numpy learning with the server step of secure aggregation (learning rate 1)."""

    def server_step(self, spec: Any, base: Any, combined: Any, previous: Any = None) -> Any:
        return {k: (v - combined[k]).astype(np.float32) for k, v in base.items()}


def test_secure_aggregation_survives_a_third_gone_after_submitting(tmp_path: Path) -> None:
    world = private_world(tmp_path, PrivacyTerms("secagg"), min_trainers=6, total_rounds=1)
    world.learning = ClippedLearning()
    names = [f"t{i}" for i in range(6)]
    # Two of six (a third) submit their round-0 update and stop before publishing shares.
    quitters = [role(world, Trainer, n, samples=10 + i) for i, n in enumerate(names[:2])]
    stayers = [role(world, Trainer, n, samples=20 + i) for i, n in enumerate(names[2:])]
    agg = role(world, Aggregator, "agg")
    ver = role(world, Verifier, "ver")
    everyone: list[Role] = [*quitters, *stayers, agg, ver]
    for r in everyone:
        r.start()
    # Join and publish keys, then start the round.
    for _ in range(3):
        for r in [*quitters, *stayers, agg]:
            r.step(world.ledger.block)
        world.ledger.block += 1
    assert sorted(world.ledger.keys) == names  # type: ignore[attr-defined]
    submitted_blocks = 0
    while submitted_blocks < 40 and not world.ledger.finalized:
        for r in everyone:
            if r in quitters and r.journal.round(0).get("status") == "submitted":
                continue  # gone after submitting: never publishes its shares
            try:
                r.step(world.ledger.block)
            except Exception as exc:
                if type(exc).__name__ != "RoleFinished":
                    raise
        world.ledger.block += 1
        submitted_blocks += 1
    assert world.ledger.finalized == [(0, "Succeeded")]
    unmasked = [
        e.message for e in world.events if e.role == "aggregator" and e.phase == "aggregating"
    ]
    assert unmasked == ["unmasked the sum of 6 updates"]
    # What reached the store are six masked updates, no plain one.
    masked = [b for b in world.store.blobs.values() if b.startswith(b"DMLSAG1")]
    assert len(masked) == 6
    assert sorted(world.ledger.shares[0]) == names[2:]  # type: ignore[attr-defined]
    verdicts = [e for e in world.events if e.role == "verifier" and e.phase == "verified"]
    assert verdicts, [e.message for e in world.events if e.role == "verifier"][-5:]
    # Every masked update in the sum, the two who left included.
    paid = {t for t in names if world.ledger.paid.get(t)}
    assert paid == set(names)


def dp_spec() -> SimpleNamespace:
    return SimpleNamespace(
        plan=TrainingPlan(
            local_epochs=1, dp_sgd=DPSGDConfig(clip=1.0, noise_multiplier=1.2, sampling_rate=0.1)
        )
    )


class DPLearning(FakeLearning):
    def load_spec(self, data: bytes) -> Any:
        super().load_spec(data)
        return dp_spec()


def test_a_dp_sgd_trainer_refuses_the_round_past_its_budget_and_leaves(tmp_path: Path) -> None:
    plan = dp_spec().plan
    two = dpsgd_epsilon([Spend.of(r, plan.dp_sgd, 1) for r in range(2)], 1e-5)
    three = dpsgd_epsilon([Spend.of(r, plan.dp_sgd, 1) for r in range(3)], 1e-5)
    budget = round((two + three) / 2, 3)  # two rounds fit, a third does not
    world = private_world(
        tmp_path,
        PrivacyTerms("dp-sgd", max_epsilon=budget, delta=1e-5),
        min_trainers=1,
        total_rounds=4,
    )
    world.learning = DPLearning()
    trainer = role(world, Trainer, "t0")
    agg = role(world, Aggregator, "agg")
    drive(world, [trainer, agg], 80)
    spent = [e.epsilon for e in world.events if e.role == "trainer" and e.epsilon is not None]
    assert spent and max(spent) <= budget
    assert ("leave_task", "t0") in world.ledger.calls
    assert len(trainer.journal.meta("dp_spent")) == 2
    assert any("leaving the task" in e.message for e in world.events if e.role == "trainer")


def test_a_task_promising_dp_sgd_on_a_plan_without_it_stops_the_trainer(tmp_path: Path) -> None:
    world = private_world(tmp_path, PrivacyTerms("dp-sgd", max_epsilon=8.0, delta=1e-5))
    trainer = role(world, Trainer, "t0")
    with pytest.raises(Exception, match="no dp_sgd section"):
        trainer.start()
