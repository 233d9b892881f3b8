"""The chain as the roles see it: typed snapshots of a task, its round and its updates, and the
calls a role makes. :class:`LiveChain` is the real one (a :class:`ChainClient` and a signer);
unit tests use an in-memory stand-in with the same methods.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

from substrateinterface import Keypair

from ..chain.client import ChainClient
from ..chain.commitment import update_commitment
from ..chain.decentralml import AggregateClaim, DecentralMl
from ..errors import ChainError, ExtrinsicFailed
from ..privacy import NO_PRIVACY, PrivacyTerms
from ..types import Address, ContentRef, Receipt, enum_name, from_hex

log = logging.getLogger(__name__)

LIVE = ("Open", "Running")
PERBILL = 1_000_000_000


def content_ref(value: Any) -> ContentRef:
    """A content reference from a decoded record (``{"cid","sha256","size"}`` or chain form)."""
    if isinstance(value, ContentRef):
        return value
    if isinstance(value, dict) and "sha256" in value:
        return ContentRef(
            str(value["cid"]), bytes.fromhex(str(value["sha256"])), int(value["size"])
        )
    if isinstance(value, dict):
        return ContentRef.from_chain(value)
    raise ChainError(f"malformed content reference {value!r}")


def _accounts(value: Any) -> list[str]:
    """A decoded ``BoundedVec<AccountId>`` (possibly wrapped in a one-item list)."""
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], list):
        value = value[0]
    return [str(v) for v in (value or [])]


def _digest(value: Any) -> bytes:
    if isinstance(value, (bytes, list)):
        return from_hex(value)
    text = str(value)
    return bytes.fromhex(text[2:] if text.startswith("0x") else text)


def _metrics(value: Any) -> tuple[float | None, float | None]:
    if not isinstance(value, dict):
        return None, None
    loss = value.get("loss_micros")
    acc = value.get("accuracy")
    return (
        None if loss is None else int(loss) / 1_000_000,
        None if acc is None else int(acc) / PERBILL,
    )


@dataclass(frozen=True)
class TaskView:
    id: int
    model: int
    status: str
    aggregation: str | dict[str, Any]
    total_rounds: int
    min_trainers: int
    trainer_count: int
    next_round: int
    round_length: int
    challenge_window: int
    aggregator: Address | None
    reward_per_round: int
    asset: int | None
    last_round: int | None = None
    """The latest successfully finalized round, if any."""
    last_base: ContentRef | None = None
    """The weights that round started from (its result is the next round's base)."""
    max_trainers: int = 0
    privacy: PrivacyTerms = NO_PRIVACY
    """The task's privacy term (mode and DP budget)."""

    @property
    def live(self) -> bool:
        return self.status in LIVE

    def previous_base(self, round_index: int) -> ContentRef | None:
        """The base of round ``round_index - 1`` when that round succeeded (what a server
        momentum term needs), else None."""
        if self.last_round is not None and self.last_round + 1 == round_index:
            return self.last_base
        return None

    @classmethod
    def parse(cls, task_id: int, fields: dict[str, Any]) -> TaskView:
        terms = fields["terms"]
        agg = fields.get("aggregator")
        aggregator: str | None = None
        if isinstance(agg, (list, tuple)) and agg:
            aggregator = str(agg[0])
        elif isinstance(agg, str):
            aggregator = agg
        asset = terms.get("asset")
        asset_id = int(asset["Asset"]) if isinstance(asset, dict) and "Asset" in asset else None
        raw_last = fields.get("last_result")
        last: dict[str, Any] = raw_last if isinstance(raw_last, dict) else {}
        last_ok = isinstance(last.get("base"), dict)
        return cls(
            id=task_id,
            model=int(fields["model"]),
            status=enum_name(fields["status"]),
            aggregation=terms["aggregation"],
            total_rounds=int(terms["total_rounds"]),
            min_trainers=int(terms["min_trainers"]),
            trainer_count=int(fields["trainer_count"]),
            next_round=int(fields["next_round"]),
            round_length=int(terms["round_length"]),
            challenge_window=int(terms["challenge_window"]),
            aggregator=aggregator,
            reward_per_round=int(terms["reward_per_round"]),
            asset=asset_id,
            last_round=int(last["round"]) if last_ok else None,
            last_base=content_ref(last["base"]) if last_ok else None,
            max_trainers=int(terms.get("max_trainers", 0)),
            privacy=PrivacyTerms.from_chain(terms.get("privacy")),
        )


@dataclass(frozen=True)
class AggregateView:
    aggregator: Address
    weights: ContentRef
    included: tuple[Address, ...]
    updates_digest: bytes
    submitted_at: int
    loss: float | None
    accuracy: float | None


@dataclass(frozen=True)
class RoundView:
    index: int
    base: ContentRef
    opened_at: int
    deadline: int
    """Last block for commitments."""
    submissions: int
    """Updates revealed so far."""
    status: str
    aggregate: AggregateView | None
    challenger: Address | None
    proposal: int | None
    reveal_end: int = 0
    """Last block for reveals (moves earlier once every expected trainer committed)."""
    expected: int = 0
    """Trainers due when the round opened."""
    commitments: int = 0
    agreements: int = 0
    """Bonded verifiers whose attested digest equals the aggregate's."""
    disagreements: int = 0
    decided: bool = False
    """A challenge of the aggregate was dismissed: it stands, no more attestations."""
    aggregation_from: int = 0
    """The aggregate waits for the previous (pipelined) round until this block."""

    def aggregation_end(self, period: int) -> int:
        """Last block the aggregate is accepted (mirrors the pallet)."""
        return max(self.reveal_end, self.aggregation_from) + period

    def reveals_open(self, block: int) -> bool:
        """Whether a reveal sent now lands in the reveal window (mirrors the pallet)."""
        started = block > self.deadline or self.commitments >= self.expected
        return started and block <= self.reveal_end

    def reveals_done(self, block: int) -> bool:
        """Whether the aggregate may be submitted at ``block`` (mirrors the pallet)."""
        return block > self.reveal_end or (
            self.reveals_open(block) and self.submissions >= self.commitments
        )

    @classmethod
    def parse(cls, fields: dict[str, Any]) -> RoundView:
        agg = fields.get("aggregate")
        aggregate = None
        if isinstance(agg, dict):
            loss, acc = _metrics(agg.get("metrics"))
            aggregate = AggregateView(
                aggregator=str(agg["aggregator"]),
                weights=content_ref(agg["weights"]),
                included=tuple(_accounts(agg["included"])),
                updates_digest=_digest(agg["updates_digest"]),
                submitted_at=int(agg["submitted_at"]),
                loss=loss,
                accuracy=acc,
            )
        challenge = fields.get("challenge")
        return cls(
            index=int(fields["index"]),
            base=content_ref(fields["base"]),
            opened_at=int(fields["opened_at"]),
            deadline=int(fields["deadline"]),
            submissions=int(fields["submissions"]),
            status=enum_name(fields["status"]),
            aggregate=aggregate,
            challenger=str(challenge["challenger"]) if isinstance(challenge, dict) else None,
            proposal=int(challenge["proposal"]) if isinstance(challenge, dict) else None,
            reveal_end=int(fields["reveal_end"]),
            expected=int(fields["expected"]),
            commitments=int(fields["commitments"]),
            agreements=int(fields.get("agreements", 0)),
            disagreements=int(fields.get("disagreements", 0)),
            decided=bool(fields.get("decided", False)),
            aggregation_from=int(fields.get("aggregation_from", 0)),
        )


@dataclass(frozen=True)
class UpdateView:
    trainer: Address
    round: int
    content: ContentRef
    samples: int
    loss: float | None
    accuracy: float | None
    submitted_at: int
    flags: int = 0
    """Bonded verifiers that reported it as a free rider."""

    @classmethod
    def parse(cls, trainer: str, fields: dict[str, Any]) -> UpdateView:
        loss, acc = _metrics(fields.get("metrics"))
        return cls(
            trainer=trainer,
            round=int(fields["round"]),
            content=content_ref(fields["content"]),
            samples=int(fields["samples"]),
            loss=loss,
            accuracy=acc,
            submitted_at=int(fields.get("submitted_at", 0)),
            flags=int(fields.get("flags", 0)),
        )


@dataclass(frozen=True)
class ParticipantView:
    first_round: int
    leaving: bool


@dataclass(frozen=True)
class ModelFiles:
    architecture: ContentRef
    initial_weights: ContentRef


class ChainPort(Protocol):
    """What a role reads from and sends to the chain."""

    @property
    def address(self) -> Address: ...

    def best_block(self) -> int: ...

    def task(self, task_id: int) -> TaskView | None: ...

    def round(self, task_id: int) -> RoundView | None:
        """The open round."""
        ...

    def pending(self, task_id: int) -> RoundView | None:
        """The aggregated round in its challenge window (the open round is the next)."""
        ...

    def updates(self, task_id: int, round_index: int) -> dict[Address, UpdateView]: ...

    def commitments(self, task_id: int, round_index: int) -> dict[Address, int]:
        """A round's commitments: trainer -> the round committed to."""
        ...

    def participants(self, task_id: int) -> dict[Address, ParticipantView]: ...

    def model_files(self, model_id: int) -> ModelFiles | None: ...

    def params(self) -> dict[str, Any]:
        """``DecentralMl.Params`` (protocol parameters, e.g. ``aggregation_period``)."""
        ...

    def has_profile(self) -> bool: ...

    def set_profile(self, jurisdiction: str) -> Receipt: ...

    def task_call(self, call: str, task_id: int) -> Receipt: ...

    def commitment(
        self, task_id: int, round_index: int, update: ContentRef, samples: int, salt: bytes
    ) -> bytes:
        """This account's commitment to ``update`` (the pallet's ``commitment_of``)."""
        ...

    def commit_update(self, task_id: int, round_index: int, commitment: bytes) -> Receipt: ...

    def reveal_update(
        self,
        task_id: int,
        round_index: int,
        update: ContentRef,
        samples: int,
        loss: float,
        accuracy: float,
        salt: bytes,
    ) -> Receipt: ...

    def submit_aggregate(self, task_id: int, claim: AggregateClaim) -> Receipt: ...

    def finalize_then_submit(
        self, task_id: int, pending: int, claim: AggregateClaim
    ) -> tuple[Receipt | ExtrinsicFailed, Receipt | ExtrinsicFailed]:
        """Finalize the pending round and submit the next one's aggregate in one block; each
        call's receipt or failure."""
        ...

    def challenge(self, task_id: int, round_index: int, evidence: ContentRef) -> Receipt: ...

    def verifiers(self, task_id: int) -> dict[Address, int]:
        """The task's bonded verifiers and their bonds."""
        ...

    def attestations(self, task_id: int, round_index: int) -> dict[Address, bool]:
        """Verifiers that attested ``round_index``'s aggregate -> whether they agreed."""
        ...

    def attest(self, task_id: int, round_index: int, digest: bytes) -> Receipt: ...

    def report_free_rider(
        self, task_id: int, round_index: int, trainer: Address, kind: str, evidence: ContentRef
    ) -> Receipt: ...

    def finalize(self, task_id: int, round_index: int) -> Receipt: ...

    # secure aggregation
    def secagg_keys(self, task_id: int) -> dict[Address, ContentRef]:
        """Each trainer's published key document."""
        ...

    def round_members(self, task_id: int, round_index: int) -> list[Address] | None:
        """The members a secure-aggregation round masks among (None: not such a round)."""
        ...

    def unmask_shares(self, task_id: int, round_index: int) -> dict[Address, ContentRef]:
        """Members' share documents published for the round."""
        ...

    def publish_keys(self, task_id: int, keys: ContentRef) -> Receipt: ...

    def publish_shares(self, task_id: int, round_index: int, shares: ContentRef) -> Receipt: ...


class LiveChain:
    """:class:`ChainPort` over a real node."""

    def __init__(self, client: ChainClient, signer: Keypair) -> None:
        self.client = client
        self.dml = DecentralMl(client)
        self.signer = signer

    @property
    def address(self) -> Address:
        return str(self.signer.ss58_address)

    def best_block(self) -> int:
        return self.client.block_number()

    def task(self, task_id: int) -> TaskView | None:
        found = self.dml.task(task_id)
        return None if found is None else TaskView.parse(task_id, found.fields)

    def round(self, task_id: int) -> RoundView | None:
        found = self.dml.round(task_id)
        return None if found is None else RoundView.parse(found.fields)

    def pending(self, task_id: int) -> RoundView | None:
        found = self.dml.pending_round(task_id)
        return None if found is None else RoundView.parse(found.fields)

    def updates(self, task_id: int, round_index: int) -> dict[Address, UpdateView]:
        out: dict[Address, UpdateView] = {}
        for record in self.dml.updates(task_id, round_index):
            trainer = str(record.key[-1])
            out[trainer] = UpdateView.parse(trainer, record.fields)
        return out

    def commitments(self, task_id: int, round_index: int) -> dict[Address, int]:
        return {
            str(record.key[-1]): int(record.fields["round"])
            for record in self.dml.commitments(task_id, round_index)
        }

    def participants(self, task_id: int) -> dict[Address, ParticipantView]:
        out: dict[Address, ParticipantView] = {}
        for record in self.dml.participants(task_id):
            out[str(record.key[-1])] = ParticipantView(
                first_round=int(record.fields.get("first_round", 0)),
                leaving=bool(record.fields.get("leaving", False)),
            )
        return out

    def model_files(self, model_id: int) -> ModelFiles | None:
        model = self.dml.model(model_id)
        if model is None:
            return None
        return ModelFiles(model.architecture, model.initial_weights)

    def params(self) -> dict[str, Any]:
        return self.dml.params()

    def has_profile(self) -> bool:
        return self.dml.trainer_profile(self.address) is not None

    def set_profile(self, jurisdiction: str) -> Receipt:
        return self.dml.set_trainer_profile(self.signer, jurisdiction)

    def task_call(self, call: str, task_id: int) -> Receipt:
        return self.dml.task_call(self.signer, call, task_id)

    def commitment(
        self, task_id: int, round_index: int, update: ContentRef, samples: int, salt: bytes
    ) -> bytes:
        return update_commitment(task_id, round_index, self.address, update, samples, salt)

    def commit_update(self, task_id: int, round_index: int, commitment: bytes) -> Receipt:
        return self.dml.commit_update(self.signer, task_id, round_index, commitment)

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
        return self.dml.reveal_update(
            self.signer, task_id, round_index, update, samples, loss, accuracy, salt
        )

    def submit_aggregate(self, task_id: int, claim: AggregateClaim) -> Receipt:
        return self.dml.submit_aggregate(self.signer, task_id, claim)

    def finalize_then_submit(
        self, task_id: int, pending: int, claim: AggregateClaim
    ) -> tuple[Receipt | ExtrinsicFailed, Receipt | ExtrinsicFailed]:
        return self.dml.finalize_then_submit(self.signer, task_id, pending, claim)

    def challenge(self, task_id: int, round_index: int, evidence: ContentRef) -> Receipt:
        return self.dml.challenge_aggregate(self.signer, task_id, round_index, evidence)

    def verifiers(self, task_id: int) -> dict[Address, int]:
        return {str(r.key[-1]): int(r.fields["value"]) for r in self.dml.verifiers(task_id)}

    def attestations(self, task_id: int, round_index: int) -> dict[Address, bool]:
        return {
            str(r.key[-1]): bool(r.fields["agrees"])
            for r in self.dml.attestations(task_id)
            if int(r.fields["round"]) == round_index
        }

    def attest(self, task_id: int, round_index: int, digest: bytes) -> Receipt:
        return self.dml.attest_aggregate(self.signer, task_id, round_index, digest)

    def report_free_rider(
        self, task_id: int, round_index: int, trainer: Address, kind: str, evidence: ContentRef
    ) -> Receipt:
        return self.dml.report_free_rider(
            self.signer, task_id, round_index, trainer, kind, evidence
        )

    def finalize(self, task_id: int, round_index: int) -> Receipt:
        return self.dml.finalize_round(self.signer, task_id, round_index)

    def secagg_keys(self, task_id: int) -> dict[Address, ContentRef]:
        return {
            str(r.key[-1]): content_ref(r.fields.get("value", r.fields))
            for r in self.dml.secagg_keys(task_id)
        }

    def round_members(self, task_id: int, round_index: int) -> list[Address] | None:
        return self.dml.round_members(task_id, round_index)

    def unmask_shares(self, task_id: int, round_index: int) -> dict[Address, ContentRef]:
        return {
            str(r.key[-1]): content_ref(r.fields.get("value", r.fields))
            for r in self.dml.unmask_shares(task_id, round_index)
        }

    def publish_keys(self, task_id: int, keys: ContentRef) -> Receipt:
        return self.dml.publish_keys(self.signer, task_id, keys)

    def publish_shares(self, task_id: int, round_index: int, shares: ContentRef) -> Receipt:
        return self.dml.publish_shares(self.signer, task_id, round_index, shares)
