"""The tasks panel's records (a task, its round, participants and updates) and its actions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from decentralml.core.errors import InputError
from decentralml.core.privacy import NO_PRIVACY, PrivacyTerms
from decentralml.core.types import AssetId, enum_name

from .actions import Action
from .common import PALLET, PERBILL, Token, codes


@dataclass(frozen=True)
class TaskRow:
    id: int
    model: int
    sponsor: str
    status: str
    asset: AssetId | None
    reward_per_round: int
    total_rounds: int
    next_round: int
    trainers: int
    min_trainers: int
    max_trainers: int
    stake: int
    pool: int
    aggregation: str
    round_length: int
    challenge_window: int
    jurisdictions: tuple[str, ...] = ()
    aggregator: str | None = None
    privacy_terms: PrivacyTerms = NO_PRIVACY

    @property
    def privacy(self) -> str:
        """The privacy mode and its declared budget (``DP-SGD, epsilon 8 at delta 1e-05``)."""
        return self.privacy_terms.describe()

    @property
    def live(self) -> bool:
        return self.status in ("Open", "Running")

    @classmethod
    def from_fields(cls, task_id: int, f: dict[str, Any]) -> TaskRow:
        terms = f.get("terms") or {}
        asset = terms.get("asset", "Native")
        asset_id = int(asset["Asset"]) if isinstance(asset, dict) and "Asset" in asset else None
        return cls(
            id=task_id,
            model=int(f.get("model", 0)),
            sponsor=str(f.get("sponsor", "")),
            status=enum_name(f.get("status", "")),
            asset=asset_id,
            reward_per_round=int(terms.get("reward_per_round", 0)),
            total_rounds=int(terms.get("total_rounds", 0)),
            next_round=int(f.get("next_round", 0)),
            trainers=int(f.get("trainer_count", 0)),
            min_trainers=int(terms.get("min_trainers", 0)),
            max_trainers=int(terms.get("max_trainers", 0)),
            stake=int(terms.get("trainer_stake", 0)),
            pool=int(f.get("pool", 0)),
            aggregation=aggregation_text(terms.get("aggregation", "")),
            round_length=int(terms.get("round_length", 0)),
            challenge_window=int(terms.get("challenge_window", 0)),
            jurisdictions=tuple(codes(terms.get("jurisdictions") or [])),
            aggregator=_aggregator(f.get("aggregator")),
            privacy_terms=_privacy(terms.get("privacy")),
        )


def _privacy(value: Any) -> PrivacyTerms:
    try:
        return PrivacyTerms.from_chain(value)
    except InputError:  # a newer runtime's mode: shown as none rather than failing the panel
        return NO_PRIVACY


def _aggregator(value: Any) -> str | None:
    if isinstance(value, dict):
        return str(value.get("account") or value.get("who") or next(iter(value.values()), ""))
    if isinstance(value, (list, tuple)) and value:
        return str(value[0])
    return None if value is None else str(value)


def aggregation_text(value: Any) -> str:
    name = enum_name(value)
    if isinstance(value, dict):
        inner = next(iter(value.values()))
        if name == "TrimmedMean":
            return f"trimmed:{int(inner) * 100 / PERBILL:g}"
        if name == "NormClippedFedAvg":
            return f"clip:{inner}"
    return {
        "FedAvg": "fedavg",
        "CoordinateMedian": "median",
        "MedianBoundedFedAvg": "bounded",
        "MedianAlignedFedAvg": "aligned",
    }.get(name, name)


@dataclass(frozen=True)
class Participant:
    trainer: str
    stake: int
    first_round: int
    leaving: bool


@dataclass(frozen=True)
class Update:
    trainer: str
    round: int
    cid: str
    samples: int
    loss: float
    accuracy: float
    flags: int = 0
    """Bonded verifiers that reported it as a free rider."""


@dataclass(frozen=True)
class Attestation:
    """A bonded verifier's attestation of the running round's aggregate."""

    verifier: str
    agrees: bool


@dataclass(frozen=True)
class TaskDetail:
    task: TaskRow
    round: dict[str, Any] | None
    participants: tuple[Participant, ...]
    updates: tuple[Update, ...]
    paid_out: int
    verifiers: tuple[str, ...] = ()
    attestations: tuple[Attestation, ...] = ()
    """Of the pending round's aggregate."""
    pending: dict[str, Any] | None = None
    """The aggregated round in its challenge window; ``round`` (the next) trains meanwhile."""
    threshold: int = 0
    """Verifiers needed to decide an aggregate (or confirm a free rider) without a vote."""
    privacy_spent: float | None = None
    """The most epsilon the task's DP mode can have spent so far (from the model's plan)."""


def task_action(call: str, task: TaskRow, token: Token) -> Action:
    verbs = {
        "join_task": ("Join task", task.stake, "staked"),
        "leave_task": ("Leave task", 0, ""),
        "cancel_task": ("Cancel task", 0, ""),
        "start_round": ("Start round", 0, ""),
    }
    title, amount, effect = verbs.get(call, (call, 0, ""))
    return Action(
        f"{title} {task.id}",
        PALLET,
        call,
        {"task_id": task.id},
        amount=amount,
        token=token,
        effect=effect,
        details=(f"model {task.model}, {task.trainers}/{task.max_trainers} trainers",),
    )


SECAGG_TRADE_OFF = (
    "secure aggregation reveals only each round's sum: robust rules cannot see single updates, "
    "so the task runs norm-bounded FedAvg with every update clipped by its trainer"
)


def create_task_action(model: int, terms: Any, token: Token) -> Action:
    """``terms`` is a core :class:`TaskTerms`; validated here (raises InputError)."""
    chain_terms = terms.to_chain()
    pool = terms.reward_per_round * terms.total_rounds
    return Action(
        f"Create a task on model {model}",
        PALLET,
        "create_task",
        {"model_id": model, "terms": chain_terms},
        amount=pool,
        token=token,
        effect="escrowed",
        details=(
            f"{terms.total_rounds} rounds x {token.fmt(terms.reward_per_round)}",
            f"trainers {terms.min_trainers}-{terms.max_trainers}, "
            f"stake {token.fmt(terms.trainer_stake)}",
            f"aggregation {terms.aggregation}, rounds of {terms.round_length} blocks",
            f"privacy {terms.privacy.describe()}",
            *((SECAGG_TRADE_OFF,) if terms.privacy.mode == "secagg" else ()),
        ),
    )
