"""In-memory stand-ins for the roles' tests: a small ledger that follows the pallet's round
rules, a content store that verifies digests, a numpy 'learning' library, and a harness.

These fakes live only under tests/unit; tests/e2e/test_federation.py runs the real node, Kubo
and TFF."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from decentralml.core.chain.decentralml import AggregateClaim
from decentralml.core.errors import ExtrinsicFailed, IntegrityError, StorageError, TrainingError
from decentralml.core.fl.weights import UpdateOrigin
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
from decentralml.core.storage.cid import compute_cid
from decentralml.core.types import ChainEvent, ContentRef, Receipt, StoredContent

TASK = 0


# ---- content store -----------------------------------------------------------------------------
class FakeStore:
    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.pinned: set[str] = set()
        self.served: dict[str, int] = {}
        """Bytes of each content others fetched and pinned."""

    @staticmethod
    def ref_of(data: bytes) -> ContentRef:
        # The real CID (what the trainer computes before a reveal and Kubo gives on upload).
        cid, digest, size = compute_cid([data])
        return ContentRef(cid, digest, size)

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

    def pin(self, cid: str, *, timeout_s: float | None = None) -> None:
        # What Kubo does for content no reachable peer serves.
        if cid not in self.blobs:
            raise StorageError(f"pin {cid}: context deadline exceeded after {timeout_s} s")
        if cid not in self.pinned:
            self.served[cid] = self.served.get(cid, 0) + len(self.blobs[cid])
        self.pinned.add(cid)

    def unpin(self, cid: str) -> None:
        self.pinned.discard(cid)


class PeerStore:
    """One participant's own IPFS peer over the shared FakeStore: it can report only what it
    sent of the content it added itself (what Kubo's bitswap ledgers count)."""

    def __init__(self, shared: FakeStore) -> None:
        self.shared = shared
        self.added: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.shared, name)

    def add_bytes(self, data: bytes, *, pin: bool = True) -> StoredContent:
        stored = self.shared.add_bytes(data, pin=pin)
        self.added.add(stored.ref.cid)
        return stored

    def sent_to_peers(self) -> dict[str, int]:
        return {"peer": sum(self.shared.served.get(cid, 0) for cid in self.added)}


# ---- learning ------------------------------------------------------------------------------------
SHAPES = {"dense/kernel": (3, 2), "dense/bias": (2,)}


def encode(weights: Weights, origin: UpdateOrigin | None = None) -> bytes:
    header: dict[str, Any] = {k: [list(v.shape), str(v.dtype)] for k, v in weights.items()}
    if origin is not None:
        header["__origin__"] = origin.to_json()
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
            header.pop("__origin__", None)
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

    def encode(self, weights: Weights, origin: UpdateOrigin | None = None) -> bytes:
        return encode(weights, origin)

    def origin(self, data: bytes) -> UpdateOrigin | None:
        try:
            raw = json.loads(data.split(b"\n", 1)[0]).get("__origin__")
        except ValueError:
            raise TrainingError("malformed weights header") from None
        return None if raw is None else UpdateOrigin(raw["task"], raw["round"], raw["trainer"])

    def train(self, spec: Any, base: Weights, dataset: Any, *, seed: int) -> Trained:
        self.trained += 1
        # Each trainer's own direction around the common one (as real trainers' updates are),
        # so that honest updates are not mistaken for copies of each other.
        rng = np.random.default_rng(seed)
        delta = {
            k: (0.5 * (v - dataset.target) + rng.normal(0.0, 0.3, v.shape)).astype(np.float32)
            for k, v in base.items()
        }
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
        previous: Weights | None = None,
    ) -> Weights:
        assert rule == "fedavg" and previous is None
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
    reveal_period: int = 3
    reward: int = 1000
    status: str = "Open"
    next_round: int = 0
    aggregator: str | None = None
    participants: dict[str, ParticipantView] = field(default_factory=dict)
    profiles: set[str] = field(default_factory=set)
    updates: dict[str, UpdateView] = field(default_factory=dict)
    commitments: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    round: RoundView | None = None
    last_weights: ContentRef | None = None
    paid: dict[str, int] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    finalized: list[tuple[int, str]] = field(default_factory=list)
    files: ModelFiles | None = None
    attestation_threshold: int = 2
    verifier_funds: dict[str, bool] = field(default_factory=dict)
    """Accounts that cannot afford the verifier bond map to False."""
    verifiers: set[str] = field(default_factory=set)
    attestations: dict[str, tuple[int, bytes, bool]] = field(default_factory=dict)
    reports: list[tuple[int, str, str, str, str]] = field(default_factory=list)
    """(round, trainer, verifier, kind, evidence cid)"""

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
            reveal_end=self.now + self.round_length + self.reveal_period,
            expected=len(self.participants),
            commitments=0,
        )
        self.next_round += 1
        self.status = "Running"

    def force_update(self, who: str, ref: ContentRef, samples: int) -> None:
        """Put ``who``'s commitment and revealed update straight into the running round (for
        tests of what the aggregator does with a bad update, not of commit-reveal itself)."""
        r = self.round
        assert r is not None and who in self.participants and who not in self.commitments
        self.commitments[who] = (r.index, b"\0" * 32)
        self.updates[who] = UpdateView(who, r.index, ref, samples, 0.1, 0.9, self.now)
        self.round = RoundView(
            **{**r.__dict__, "commitments": r.commitments + 1, "submissions": r.submissions + 1}
        )

    def finalize(self, who: str, index: int) -> Receipt:
        r = self.round
        if r is None:
            raise fail("NoActiveRound")
        if r.index != index:
            raise fail("WrongRound")
        outcome = "Failed"
        if r.status == "Open":
            if self.now <= r.reveal_end:
                raise fail("RoundStillOpen")
            if r.submissions and self.now <= r.reveal_end + self.aggregation_period:
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
        self.commitments.clear()
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

    # The fake keeps one round: open, then pending once aggregated (it never opens the next
    # round early, as the pallet does not when the next cannot open); the pallet's pipelining
    # is tested in its own unit tests and by the e2e federation on a real node.
    def round(self, task_id: int) -> RoundView | None:
        r = self.ledger.round
        return r if r is not None and r.status == "Open" else None

    def pending(self, task_id: int) -> RoundView | None:
        r = self.ledger.round
        return r if r is not None and r.status != "Open" else None

    def updates(self, task_id: int, round_index: int) -> dict[str, UpdateView]:
        return {t: u for t, u in self.ledger.updates.items() if u.round == round_index}

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
        elif call == "bond_verifier":
            if self._address in lg.verifiers:
                raise fail("AlreadyVerifier")
            if lg.aggregator == self._address:
                raise fail("AggregatorCannotVerify")
            if not lg.verifier_funds.get(self._address, True):
                raise fail("InsufficientBalance")
            lg.verifiers.add(self._address)
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

    def commitment(
        self, task_id: int, round_index: int, update: ContentRef, samples: int, salt: bytes
    ) -> bytes:
        # The ledger's own commitment scheme over readable account names (the real one, over
        # 32-byte account ids, is tested in test_commitment.py and on the node).
        text = f"{task_id}/{round_index}/{self._address}/{update.cid}/{update.digest.hex()}"
        return hashlib.blake2b(f"{text}/{samples}".encode() + salt, digest_size=32).digest()

    def commit_update(self, task_id: int, round_index: int, commitment: bytes) -> Receipt:
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
        if self._address in lg.commitments:
            raise fail("AlreadyCommitted")
        lg.commitments[self._address] = (round_index, commitment)
        count = r.commitments + 1
        end = min(r.reveal_end, lg.now + lg.reveal_period) if count >= r.expected else r.reveal_end
        lg.round = RoundView(**{**r.__dict__, "commitments": count, "reveal_end": end})
        lg.calls.append(("commit_update", self._address))
        return lg.receipt("commit_update")

    def commitments(self, task_id: int, round_index: int) -> dict[str, int]:
        return {
            who: index
            for who, (index, _) in self.ledger.commitments.items()
            if index == round_index
        }

    def reveal_update(
        self,
        task_id: int,
        round_index: int,
        update: ContentRef,
        samples: int,
        loss: float,
        accuracy: float,
        salt: bytes,
    ) -> Receipt:
        lg, r = self.ledger, self.ledger.round
        if r is None:
            raise fail("NoActiveRound")
        if r.index != round_index:
            raise fail("WrongRound")
        if r.status != "Open":
            raise fail("RoundNotOpen")
        if lg.now > r.reveal_end:
            raise fail("RevealPeriodOver")
        if not r.reveals_open(lg.now):
            raise fail("RevealNotOpen")
        if self._address not in lg.commitments:
            raise fail("NotCommitted")
        if self._address in lg.updates:
            raise fail("AlreadyRevealed")
        if (
            self.commitment(task_id, round_index, update, samples, salt)
            != lg.commitments[self._address][1]
        ):
            raise fail("CommitmentMismatch")
        lg.updates[self._address] = UpdateView(
            self._address, round_index, update, samples, loss, accuracy, lg.now
        )
        lg.round = RoundView(**{**r.__dict__, "submissions": r.submissions + 1})
        lg.calls.append(("reveal_update", self._address))
        return lg.receipt("reveal_update")

    def submit_aggregate(self, task_id: int, claim: AggregateClaim) -> Receipt:
        lg, r = self.ledger, self.ledger.round
        included = claim.included
        if r is None or r.index != claim.round:
            raise fail("WrongRound")
        if r.status != "Open":
            raise fail("RoundNotOpen")
        if lg.aggregator != self._address:
            raise fail("NotAggregator")
        if not r.reveals_done(lg.now):
            raise fail("RoundStillOpen")
        if lg.now > r.reveal_end + lg.aggregation_period:
            raise fail("AggregationPeriodOver")
        if not included:
            raise fail("EmptyAggregate")
        for t in included:
            if t not in lg.updates:
                raise fail("UpdateNotFound")
        digest = updates_digest([lg.updates[t].content.digest for t in included])
        agg = AggregateView(
            self._address, claim.weights, included, digest, lg.now, claim.loss, claim.accuracy
        )
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

    def verifiers(self, task_id: int) -> dict[str, int]:
        return {v: 25 for v in self.ledger.verifiers}

    def attestations(self, task_id: int, round_index: int) -> dict[str, bool]:
        return {v: a for v, (i, _, a) in self.ledger.attestations.items() if i == round_index}

    def attest(self, task_id: int, round_index: int, digest: bytes) -> Receipt:
        """Mirrors the pallet's counting; a disagreement threshold fails the round (the
        slashing itself is the pallet's, tested there)."""
        lg, r = self.ledger, self.ledger.round
        if self._address not in lg.verifiers:
            raise fail("NotVerifier")
        if r is None or r.index != round_index:
            raise fail("WrongRound")
        if r.aggregate is None or r.status not in ("Aggregated", "Challenged") or r.decided:
            raise fail("AttestationClosed")
        if lg.attestations.get(self._address, (-1,))[0] == round_index:
            raise fail("AlreadyAttested")
        agrees = digest == r.aggregate.weights.digest
        lg.attestations[self._address] = (round_index, digest, agrees)
        key = "agreements" if agrees else "disagreements"
        changes: dict[str, Any] = {key: getattr(r, key) + 1}
        events = [ChainEvent("DecentralMl", "AggregateAttested", {"agrees": agrees})]
        if not agrees and r.disagreements + 1 >= lg.attestation_threshold:
            changes.update(status="Failed", aggregate=None, challenger=None, proposal=None)
            events.append(ChainEvent("DecentralMl", "AggregateRejectedByVerifiers", {}))
        lg.round = RoundView(**{**r.__dict__, **changes})
        lg.calls.append(("attest_aggregate", self._address))
        return lg.receipt("attest_aggregate", *events)

    def report_free_rider(
        self, task_id: int, round_index: int, trainer: str, kind: str, evidence: ContentRef
    ) -> Receipt:
        lg = self.ledger
        if self._address not in lg.verifiers:
            raise fail("NotVerifier")
        update = lg.updates.get(trainer)
        if update is None or update.round != round_index:
            raise fail("UpdateNotFound")
        if any(r[:3] == (round_index, trainer, self._address) for r in lg.reports):
            raise fail("AlreadyReported")
        lg.reports.append((round_index, trainer, self._address, kind, evidence.cid))
        lg.updates[trainer] = UpdateView(**{**update.__dict__, "flags": update.flags + 1})
        lg.calls.append(("report_free_rider", self._address))
        return lg.receipt("report_free_rider")

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
            PeerStore(self.store),  # type: ignore[arg-type]
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


def make_world(tmp_path: Path) -> World:
    """A fresh ledger with one task on a zero model, an empty store, the numpy learning."""
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
