"""The roles' logic against in-memory stand-ins (a small ledger that follows the pallet's round
rules, a content store that verifies digests, a numpy 'learning' library): whole federations,
bad updates, tampered aggregates, resumes after crashes, stops and fatal errors.

These fakes live only here; tests/e2e/test_federation.py runs the real node, Kubo and TFF."""

from __future__ import annotations

import hashlib
import io
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from decentralml.core.errors import ExtrinsicFailed, IntegrityError, StorageError, TrainingError
from decentralml.core.roles.aggregator import Aggregator
from decentralml.core.roles.base import Role, RoleFinished, RoleOptions
from decentralml.core.roles.chainview import (
    AggregateView,
    ModelFiles,
    ParticipantView,
    RoundView,
    TaskView,
    UpdateView,
)
from decentralml.core.roles.events import EventLog, ProgressEvent
from decentralml.core.roles.learning import Trained, Weights, updates_digest
from decentralml.core.roles.state import Journal
from decentralml.core.roles.trainer import Trainer
from decentralml.core.roles.verifier import Verifier
from decentralml.core.types import ChainEvent, ContentRef, Receipt, StoredContent

TASK = 0


# ---- content store -----------------------------------------------------------------------------
class FakeStore:
    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    @staticmethod
    def ref_of(data: bytes) -> ContentRef:
        digest = hashlib.sha256(data).digest()
        return ContentRef("bafk" + digest.hex()[:40], digest, len(data))

    def add_bytes(self, data: bytes, *, pin: bool = True) -> StoredContent:
        ref = self.ref_of(data)
        self.blobs[ref.cid] = data
        return StoredContent(ref, pin)

    def add_file(self, path: Path, *, pin: bool = True) -> StoredContent:
        return self.add_bytes(path.read_bytes(), pin=pin)

    def cat(self, ref: ContentRef) -> bytes:
        if ref.cid not in self.blobs:
            raise StorageError(f"{ref.cid}: block was not found locally (offline)")
        data = self.blobs[ref.cid]
        if hashlib.sha256(data).digest() != ref.digest or len(data) != ref.size:
            raise IntegrityError(f"{ref.cid}: sha256 mismatch")
        return data

    def fetch_to(self, ref: ContentRef, dest: Path) -> ContentRef:
        dest.write_bytes(self.cat(ref))
        return ref

    def pin(self, cid: str) -> None:
        pass


# ---- learning ------------------------------------------------------------------------------------
SHAPES = {"dense/kernel": (3, 2), "dense/bias": (2,)}


def encode(weights: Weights) -> bytes:
    header = {k: [list(v.shape), str(v.dtype)] for k, v in weights.items()}
    body = b"".join(np.ascontiguousarray(v).tobytes() for v in weights.values())
    return json.dumps(header).encode() + b"\n" + body


@dataclass
class FakeDataset:
    y: list[int]
    target: float


class FakeLearning:
    """Training moves every weight a fraction towards the dataset's target value."""

    def __init__(self) -> None:
        self.trained = 0
        self.stopped = 0

    def load_spec(self, data: bytes) -> Any:
        spec = json.loads(data)
        if spec.get("kind") != "mlp":
            raise TrainingError("bad spec")
        return spec

    def load_dataset(self, path: Path, spec: Any) -> Any:
        text = path.read_text().split()
        if text[0] != "ok":
            raise TrainingError(f"DatasetMismatch: {path.name} does not match the model's schema")
        return FakeDataset(y=[0] * int(text[1]), target=float(text[2]))

    def dataset_size(self, dataset: Any) -> int:
        return len(dataset.y)

    def dataset_jurisdiction(self, dataset: Any) -> str | None:
        return "DE"

    def prepare(self, spec: Any) -> None:
        pass

    def decode(self, data: bytes, like: Weights | None = None) -> Weights:
        try:
            head, body = data.split(b"\n", 1)
            header = json.loads(head)
            out: Weights = {}
            offset = 0
            for name, (shape, dtype) in header.items():
                arr = np.frombuffer(body, dtype=dtype, count=int(np.prod(shape)), offset=offset)
                offset += arr.nbytes
                out[name] = arr.reshape(shape).copy()
        except (ValueError, TypeError) as exc:
            raise TrainingError(f"malformed weights: {exc}") from None
        for name, arr in out.items():
            if not np.isfinite(arr).all():
                raise TrainingError(f"{name} has NaN or Inf values")
        if like is not None:
            for name, arr in like.items():
                if name not in out or out[name].shape != arr.shape or out[name].dtype != arr.dtype:
                    raise TrainingError(f"{name}: wrong shape or dtype")
            if set(out) != set(like):
                raise TrainingError("wrong layer names")
        return out

    def encode(self, weights: Weights) -> bytes:
        return encode(weights)

    def train(self, spec: Any, base: Weights, dataset: Any, *, seed: int) -> Trained:
        self.trained += 1
        delta = {k: (0.5 * (v - dataset.target)).astype(np.float32) for k, v in base.items()}
        loss = float(np.mean([np.abs(v - dataset.target).mean() for v in base.values()]))
        return Trained(delta=delta, samples=len(dataset.y), loss=loss, accuracy=0.5)

    def aggregate(
        self,
        rule: str,
        base: Weights,
        updates: Sequence[tuple[Weights, int]],
        *,
        spec: Any,
        seed: bytes,
    ) -> Weights:
        assert rule == "fedavg"
        total = sum(n for _, n in updates)
        return {
            k: (v - sum(d[k] * n for d, n in updates) / total).astype(np.float32)
            for k, v in base.items()
        }

    def evaluate(self, spec: Any, weights: Weights, dataset: Any) -> tuple[float, float]:
        loss = float(np.mean([np.abs(v - dataset.target).mean() for v in weights.values()]))
        return loss, max(0.0, 1.0 - loss)

    def shutdown(self) -> None:
        self.stopped += 1


# ---- ledger (the pallet's round rules, simplified) ------------------------------------------------
def fail(error: str) -> ExtrinsicFailed:
    return ExtrinsicFailed("DecentralMl", error, "")


@dataclass
class Ledger:
    store: FakeStore
    block: int = 1
    total_rounds: int = 2
    min_trainers: int = 2
    round_length: int = 6
    challenge_window: int = 3
    aggregation_period: int = 4
    reward: int = 1000
    status: str = "Open"
    next_round: int = 0
    aggregator: str | None = None
    participants: dict[str, ParticipantView] = field(default_factory=dict)
    profiles: set[str] = field(default_factory=set)
    updates: dict[str, UpdateView] = field(default_factory=dict)
    round: RoundView | None = None
    last_weights: ContentRef | None = None
    paid: dict[str, int] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    finalized: list[tuple[int, str]] = field(default_factory=list)
    files: ModelFiles | None = None

    @property
    def now(self) -> int:
        return self.block + 1

    def receipt(self, call: str, *events: ChainEvent) -> Receipt:
        return Receipt("0x" + "ab" * 32, "0x" + "cd" * 32, self.now, "DecentralMl", call, 0, events)

    def open_round(self) -> None:
        assert self.files is not None
        base = self.last_weights or self.files.initial_weights
        self.round = RoundView(
            index=self.next_round,
            base=base,
            opened_at=self.now,
            deadline=self.now + self.round_length,
            submissions=0,
            status="Open",
            aggregate=None,
            challenger=None,
            proposal=None,
        )
        self.next_round += 1
        self.status = "Running"

    def finalize(self, who: str, index: int) -> Receipt:
        r = self.round
        if r is None:
            raise fail("NoActiveRound")
        if r.index != index:
            raise fail("WrongRound")
        outcome = "Failed"
        if r.status == "Open":
            if self.now <= r.deadline:
                raise fail("RoundStillOpen")
            if r.submissions and self.now <= r.deadline + self.aggregation_period:
                raise fail("AwaitingAggregate")
        elif r.status == "Aggregated":
            assert r.aggregate is not None
            if self.now <= r.aggregate.submitted_at + self.challenge_window:
                raise fail("ChallengeWindowOpen")
            outcome = "Succeeded"
            self.last_weights = r.aggregate.weights
            fee = self.reward // 10
            assert self.aggregator is not None
            self.paid[self.aggregator] = self.paid.get(self.aggregator, 0) + fee
            total = sum(self.updates[t].samples for t in r.aggregate.included)
            for t in r.aggregate.included:
                share = (self.reward - fee) * self.updates[t].samples // total
                self.paid[t] = self.paid.get(t, 0) + share
        elif r.status == "Challenged":
            raise fail("RoundUnderChallenge")
        self.finalized.append((index, outcome))
        self.calls.append(("finalize_round", who))
        self.updates.clear()
        self.round = None
        if self.next_round >= self.total_rounds:
            self.status = "Completed"
            self.participants.clear()
            self.aggregator = None
        elif self.aggregator and len(self.participants) >= self.min_trainers:
            self.open_round()
        event = ChainEvent("DecentralMl", "RoundFinalized", {"round": index, "outcome": outcome})
        return self.receipt("finalize_round", event)


class FakeChain:
    """One account's view of the ledger (a ChainPort)."""

    def __init__(self, ledger: Ledger, address: str) -> None:
        self.ledger = ledger
        self._address = address

    @property
    def address(self) -> str:
        return self._address

    def best_block(self) -> int:
        return self.ledger.block

    def task(self, task_id: int) -> TaskView | None:
        lg = self.ledger
        if task_id != TASK:
            return None
        return TaskView(
            id=TASK,
            model=0,
            status=lg.status,
            aggregation="FedAvg",
            total_rounds=lg.total_rounds,
            min_trainers=lg.min_trainers,
            trainer_count=len(lg.participants),
            next_round=lg.next_round,
            round_length=lg.round_length,
            challenge_window=lg.challenge_window,
            aggregator=lg.aggregator,
            reward_per_round=lg.reward,
            asset=1,
        )

    def round(self, task_id: int) -> RoundView | None:
        return self.ledger.round

    def updates(self, task_id: int) -> dict[str, UpdateView]:
        return dict(self.ledger.updates)

    def participants(self, task_id: int) -> dict[str, ParticipantView]:
        return dict(self.ledger.participants)

    def model_files(self, model_id: int) -> ModelFiles | None:
        return self.ledger.files

    def params(self) -> dict[str, Any]:
        return {"aggregation_period": self.ledger.aggregation_period}

    def has_profile(self) -> bool:
        return self._address in self.ledger.profiles

    def set_profile(self, jurisdiction: str) -> Receipt:
        self.ledger.profiles.add(self._address)
        return self.ledger.receipt("set_trainer_profile")

    def task_call(self, call: str, task_id: int) -> Receipt:
        lg = self.ledger
        if lg.status not in ("Open", "Running"):
            raise fail("TaskNotLive")
        if call == "join_task":
            if self._address in lg.participants:
                raise fail("AlreadyJoined")
            if self._address not in lg.profiles:
                raise fail("NoTrainerProfile")
            lg.participants[self._address] = ParticipantView(lg.next_round, False)
        elif call == "bond_aggregator":
            if lg.aggregator is not None:
                raise fail("AggregatorAlreadyBonded")
            lg.aggregator = self._address
        elif call == "start_round":
            if lg.round is not None:
                raise fail("RoundInProgress")
            if len(lg.participants) < lg.min_trainers:
                raise fail("NotEnoughTrainers")
            lg.open_round()
        else:
            raise AssertionError(call)
        lg.calls.append((call, self._address))
        return lg.receipt(call)

    def submit_update(
        self,
        task_id: int,
        round_index: int,
        update: ContentRef,
        samples: int,
        loss: float,
        accuracy: float,
    ) -> Receipt:
        lg, r = self.ledger, self.ledger.round
        if r is None:
            raise fail("NoActiveRound")
        if r.index != round_index:
            raise fail("WrongRound")
        if r.status != "Open":
            raise fail("RoundNotOpen")
        if lg.now > r.deadline:
            raise fail("DeadlinePassed")
        if self._address not in lg.participants:
            raise fail("NotParticipant")
        if self._address in lg.updates:
            raise fail("AlreadySubmitted")
        lg.updates[self._address] = UpdateView(
            self._address, round_index, update, samples, loss, accuracy, lg.now
        )
        lg.round = RoundView(**{**r.__dict__, "submissions": r.submissions + 1})
        lg.calls.append(("submit_update", self._address))
        return lg.receipt("submit_update")

    def submit_aggregate(
        self,
        task_id: int,
        round_index: int,
        weights: ContentRef,
        included: Sequence[str],
        loss: float,
        accuracy: float,
    ) -> Receipt:
        lg, r = self.ledger, self.ledger.round
        if r is None or r.index != round_index:
            raise fail("WrongRound")
        if r.status != "Open":
            raise fail("RoundNotOpen")
        if lg.aggregator != self._address:
            raise fail("NotAggregator")
        if not (lg.now > r.deadline or r.submissions >= len(lg.participants)):
            raise fail("RoundStillOpen")
        if lg.now > r.deadline + lg.aggregation_period:
            raise fail("AggregationPeriodOver")
        if not included:
            raise fail("EmptyAggregate")
        for t in included:
            if t not in lg.updates:
                raise fail("UpdateNotFound")
        digest = updates_digest([lg.updates[t].content.digest for t in included])
        agg = AggregateView(self._address, weights, tuple(included), digest, lg.now, loss, accuracy)
        lg.round = RoundView(**{**r.__dict__, "status": "Aggregated", "aggregate": agg})
        lg.calls.append(("submit_aggregate", self._address))
        return lg.receipt("submit_aggregate")

    def challenge(self, task_id: int, round_index: int, evidence: ContentRef) -> Receipt:
        lg, r = self.ledger, self.ledger.round
        if r is None or r.status != "Aggregated" or r.aggregate is None:
            raise fail("NotAggregated")
        if lg.now > r.aggregate.submitted_at + lg.challenge_window:
            raise fail("ChallengeWindowClosed")
        lg.round = RoundView(
            **{**r.__dict__, "status": "Challenged", "challenger": self._address, "proposal": 7}
        )
        lg.calls.append(("challenge_aggregate", self._address))
        event = ChainEvent("DecentralMl", "AggregateChallenged", {"proposal_id": 7})
        return lg.receipt("challenge_aggregate", event)

    def finalize(self, task_id: int, round_index: int) -> Receipt:
        return self.ledger.finalize(self._address, round_index)


# ---- harness ---------------------------------------------------------------------------------------
@dataclass
class World:
    ledger: Ledger
    store: FakeStore
    learning: FakeLearning
    tmp: Path
    events: list[ProgressEvent] = field(default_factory=list)

    def log(self) -> EventLog:
        return EventLog(sinks=(self.events.append,))

    def data(self, name: str, samples: int, target: float) -> Path:
        path = self.tmp / f"{name}.txt"
        path.write_text(f"ok {samples} {target}")
        return path

    def journal(self, role: str, who: str) -> Journal:
        return Journal(self.tmp / f"state-{role}-{who}", role=role, task=TASK, account=who)

    def trainer(self, who: str, samples: int = 10, target: float = 1.0, **kw: Any) -> Trainer:
        return Trainer(
            FakeChain(self.ledger, who),
            self.store,
            self.learning,
            self.journal("trainer", who),
            self.log(),
            RoleOptions(task=TASK, poll_s=0.01, **kw),
            data=self.data(who, samples, target),
        )

    def aggregator(self, who: str = "agg", **kw: Any) -> Aggregator:
        tamper = kw.pop("tamper", False)
        return Aggregator(
            FakeChain(self.ledger, who),
            self.store,
            self.learning,
            self.journal("aggregator", who),
            self.log(),
            RoleOptions(task=TASK, poll_s=0.01, **kw),
            tamper=tamper,
        )

    def verifier(self, who: str = "ver") -> Verifier:
        return Verifier(
            FakeChain(self.ledger, who),
            self.store,
            self.learning,
            self.journal("verifier", who),
            self.log(),
            RoleOptions(task=TASK, poll_s=0.01),
            data=self.data(who, 50, 1.0),
        )

    def phases(self, role: str | None = None, phase: str | None = None) -> list[ProgressEvent]:
        return [
            e
            for e in self.events
            if (role is None or e.role == role) and (phase is None or e.phase == phase)
        ]


@pytest.fixture
def world(tmp_path: Path) -> World:
    store = FakeStore()
    spec = json.dumps({"kind": "mlp"}).encode()
    initial = {k: np.zeros(s, np.float32) for k, s in SHAPES.items()}
    ledger = Ledger(store=store)
    ledger.files = ModelFiles(store.add_bytes(spec).ref, store.add_bytes(encode(initial)).ref)
    return World(ledger, store, FakeLearning(), tmp_path)


def drive(world: World, roles: Sequence[Role], blocks: int) -> set[int]:
    """Step every role once per block (as their run loops do); returns the indexes finished."""
    finished: set[int] = set()
    for role in roles:
        role.start()
    for _ in range(blocks):
        for i, role in enumerate(roles):
            if i in finished:
                continue
            try:
                role.step(world.ledger.block)
            except RoleFinished:
                finished.add(i)
            except ExtrinsicFailed:
                pass
        world.ledger.block += 1
        if len(finished) == len(roles):
            break
    return finished


# ---- tests ------------------------------------------------------------------------------------------
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
    assert [c for c in lg.calls if c[0] == "submit_update"].count(("submit_update", "t1")) == 2
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
    """Replace ``who``'s (not yet submitted) update by a bad one, submitted directly."""
    chain = FakeChain(world.ledger, who)
    good = {k: np.ones(s, np.float32) for k, s in SHAPES.items()}
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
    else:
        raise AssertionError(kind)
    chain.submit_update(TASK, round_index, ref, 10, 0.1, 0.9)


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("nan", "NaN"),
        ("shape", "wrong shape"),
        ("dtype", "wrong shape or dtype"),
        ("garbage", "malformed"),
        ("digest", "digest mismatch"),
        ("missing", "unavailable"),
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
    result = check_update(world.store, world.learning, base, update, 0, {})
    assert isinstance(result, Rejected) and "not a participant" in result.reason
    other_round = UpdateView("t1", 1, ref, 5, 0.1, 0.9, 3)
    participants = {"t1": ParticipantView(0, False)}
    result = check_update(world.store, world.learning, base, other_round, 0, participants)
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
    drive(world, [t1], 2)
    corrupt_update(world, "bad", "nan")
    weights = world.store.add_bytes(b"whatever").ref
    FakeChain(world.ledger, "agg").submit_aggregate(TASK, 0, weights, ["t1", "bad"], 0.1, 0.9)
    drive(world, [ver], 2)
    challenged = world.phases("verifier", "challenged")
    assert challenged and "invalid update from bad" in challenged[0].message


def test_trainer_resumes_after_a_crash_between_upload_and_submit(world: World) -> None:
    world.ledger.total_rounds = 1
    world.ledger.min_trainers = 1
    agg = world.aggregator()
    t1 = world.trainer("t1")
    drive(world, [t1, agg], 2)
    assert world.ledger.round is not None
    # Crash right before the submission: the journal says "uploaded", nothing on chain.
    original = FakeChain.submit_update

    def crash(*_: Any, **__: Any) -> Receipt:
        raise KeyboardInterrupt

    FakeChain.submit_update = crash  # type: ignore[method-assign]
    try:
        with pytest.raises(KeyboardInterrupt):
            t1.step(world.ledger.block)
    finally:
        FakeChain.submit_update = original  # type: ignore[method-assign]
    assert world.journal("trainer", "t1").round(0)["status"] == "submitting"
    assert world.learning.trained == 1
    restarted = world.trainer("t1")
    drive(world, [restarted, agg], 20)
    assert world.learning.trained == 1, "the uploaded update is reused, not trained again"
    assert [c for c in world.ledger.calls if c[0] == "submit_update"] == [("submit_update", "t1")]
    assert world.ledger.finalized == [(0, "Succeeded")]


def test_trainer_restarted_after_submitting_never_submits_twice(world: World) -> None:
    world.ledger.total_rounds = 1
    world.ledger.min_trainers = 1
    world.ledger.round_length = 30
    # A second participant that never submits keeps the round open.
    world.ledger.profiles.add("idle")
    FakeChain(world.ledger, "idle").task_call("join_task", TASK)
    agg = world.aggregator()
    drive(world, [world.trainer("t1"), agg], 3)
    assert "t1" in world.ledger.updates
    # Lose the journal entirely: the chain's Updates entry is the source of truth.
    for path in (world.tmp / "state-trainer-t1").iterdir():
        path.unlink()
    again = world.trainer("t1")
    again.start()
    again.step(world.ledger.block)
    assert [c for c in world.ledger.calls if c[0] == "submit_update"] == [("submit_update", "t1")]
    assert again.journal.round(0)["status"] == "submitted"
    assert world.learning.trained == 1


def test_aggregator_resumes_with_its_uploaded_aggregate(world: World) -> None:
    world.ledger.total_rounds = 1
    world.ledger.min_trainers = 1
    agg = world.aggregator()
    t1 = world.trainer("t1")
    original = FakeChain.submit_aggregate

    def crash(*_: Any, **__: Any) -> Receipt:
        raise KeyboardInterrupt

    FakeChain.submit_aggregate = crash  # type: ignore[method-assign]
    try:
        with pytest.raises(KeyboardInterrupt):
            drive(world, [t1, agg], 10)
    finally:
        FakeChain.submit_aggregate = original  # type: ignore[method-assign]
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
    assert sum(1 for c in world.ledger.calls if c == ("submit_update", "t1")) == 1


def test_tamper_changes_the_bytes() -> None:
    from decentralml.core.roles.aggregator import tamper_weights

    w = {k: np.zeros(s, np.float32) for k, s in SHAPES.items()}
    assert encode(tamper_weights(w)) != encode(w)
    assert tamper_weights(w)["dense/kernel"].dtype == np.float32
    _ = io  # keep the import list honest for readers of the fakes
