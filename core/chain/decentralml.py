"""Typed access to the DecentralMl pallet: calls, parameter builders and record decoding.

Everything here is composed from the runtime's metadata by name: a call the connected
runtime lacks (a node that is not ours) raises :class:`UnknownCall` naming it.
Parameter builders are pure functions (unit-tested without a node).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from substrateinterface import Keypair

from ..codes import country_code, spdx_id
from ..errors import ExtrinsicFailed, InputError, UnknownCall
from ..privacy import NO_PRIVACY, PrivacyTerms
from ..types import (
    Address,
    AssetId,
    Balance,
    ContentRef,
    FeeEstimate,
    ModelId,
    ProposalId,
    Receipt,
    TaskId,
    to_hex,
)
from .client import ChainClient
from .records import (
    PALLET,
    DecentralMlReader,
)
from .submit import CallSpec, accept_any_fee

PERBILL = 1_000_000_000

AGGREGATION_RULES = ("aligned", "bounded", "fedavg", "median", "trimmed:<percent>", "clip:<norm>")
SAFETY_ACTIONS = ("Flag", "Suspend", "Reinstate", "Retire")
CONVICTIONS = ("None", "Locked1x", "Locked2x", "Locked3x", "Locked4x", "Locked5x", "Locked6x")
PARAMETERS = {
    "aggregator_fee": ("AggregatorFee", "perbill"),
    "non_submit_slash": ("NonSubmitSlash", "perbill"),
    "aggregator_bond": ("AggregatorBond", "balance"),
    "challenge_bond": ("ChallengeBond", "balance"),
    "proposal_deposit": ("ProposalDeposit", "balance"),
    "min_trainer_stake": ("MinTrainerStake", "balance"),
    "voting_period": ("VotingPeriod", "blocks"),
    "aggregation_period": ("AggregationPeriod", "blocks"),
    "task_idle_timeout": ("TaskIdleTimeout", "blocks"),
    "ratification_period": ("RatificationPeriod", "blocks"),
    "standard_quorum": ("StandardQuorum", "perbill"),
    "standard_approval": ("StandardApproval", "perbill"),
    "safety_quorum": ("SafetyQuorum", "perbill"),
    "safety_approval": ("SafetyApproval", "perbill"),
    "reveal_period": ("RevealPeriod", "blocks"),
    "verifier_bond": ("VerifierBond", "balance"),
    "attestation_threshold": ("AttestationThreshold", "count"),
}
FREE_RIDER_KINDS = {"copy": "Copy", "zero": "ZeroDelta", "noise": "Noise"}


# ---- parameter builders (pure) ---------------------------------------------------------------
def jurisdiction(code: str) -> str:
    """An ISO 3166-1 alpha-2 code (any case; see :mod:`..codes`) as the pallet's ``[u8; 2]``."""
    return to_hex(country_code(code).encode())


def bounded(items: list[Any]) -> list[list[Any]]:
    """A ``BoundedVec`` of non-byte items as scalecodec encodes it.

    scale-info describes ``BoundedVec<T, S>`` as a tuple struct with one field (the Vec);
    scalecodec unwraps a single field only for non-list values, so a list must be wrapped.
    """
    return [items]


def jurisdictions(codes: Sequence[str]) -> list[list[str]]:
    out = [jurisdiction(c) for c in codes]
    if len(out) > 32:
        raise InputError("at most 32 jurisdictions")
    return bounded(out)


def perbill(fraction: float, what: str) -> int:
    if not 0.0 <= fraction <= 1.0:
        raise InputError(f"{what} must be between 0 and 1, got {fraction}")
    return round(fraction * PERBILL)


def percent_perbill(text: str, what: str) -> int:
    try:
        value = float(text.rstrip("%"))
    except ValueError:
        raise InputError(f"{what} must be a percentage, got {text!r}") from None
    return perbill(value / 100, what)


def metrics(loss: float, accuracy: float) -> dict[str, int]:
    if loss < 0:
        raise InputError(f"loss cannot be negative, got {loss}")
    return {"loss_micros": round(loss * 1_000_000), "accuracy": perbill(accuracy, "accuracy")}


def licence(
    spdx: str | None = None,
    custom: ContentRef | None = None,
    *,
    commercial_use: bool = False,
    attribution: bool = True,
    share_alike: bool = False,
) -> dict[str, Any]:
    if (spdx is None) == (custom is None):
        raise InputError("a licence is either an SPDX id or custom terms (a content reference)")
    if spdx is not None:
        if spdx.startswith("LicenseRef-"):  # SPDX's form for a licence outside its list
            if not re.fullmatch(r"LicenseRef-[A-Za-z0-9.-]{1,53}", spdx):
                raise InputError(f"invalid SPDX licence reference {spdx!r}")
        else:
            spdx = spdx_id(spdx)  # canonical case; an unknown id is an error with suggestions
        terms: dict[str, Any] = {"Spdx": to_hex(spdx.encode())}
    else:
        assert custom is not None
        terms = {"Custom": custom.to_chain()}
    return {
        "terms": terms,
        "commercial_use": commercial_use,
        "attribution": attribution,
        "share_alike": share_alike,
    }


def model_registration(
    name: str,
    architecture: ContentRef,
    initial_weights: ContentRef,
    *,
    licence: dict[str, Any] | None,
    jurisdictions: Sequence[str] = (),
) -> dict[str, Any]:
    """The parameters of ``register_model`` (shared by the CLI and the console)."""
    if not name.strip():
        raise InputError("a model needs a name")
    if licence is None:
        raise InputError("a model needs a licence (--licence SPDX, or custom terms)")
    return {
        "name": to_hex(name.encode()),
        "architecture": architecture.to_chain(),
        "initial_weights": initial_weights.to_chain(),
        "licence": licence,
        "jurisdictions": globals()["jurisdictions"](jurisdictions),
    }


def aggregation_rule(text: str) -> Any:
    """``aligned`` (median-aligned), ``bounded`` (median-norm-bounded FedAvg), ``fedavg``,
    ``median``, ``trimmed:10`` (percent trimmed), ``clip:1000000`` (norm bound)."""
    lowered = text.strip().lower()
    if lowered == "fedavg":
        return "FedAvg"
    if lowered == "bounded":
        return "MedianBoundedFedAvg"
    if lowered == "aligned":
        return "MedianAlignedFedAvg"
    if lowered in ("median", "coordinate-median"):
        return "CoordinateMedian"
    if lowered.startswith("trimmed:"):
        return {"TrimmedMean": percent_perbill(lowered.split(":", 1)[1], "trimmed share")}
    if lowered.startswith("clip:"):
        bound = lowered.split(":", 1)[1]
        if not bound.isdigit():
            raise InputError(f"clip bound must be a whole number, got {bound!r}")
        return {"NormClippedFedAvg": int(bound)}
    raise InputError(f"unknown aggregation rule {text!r} (use {', '.join(AGGREGATION_RULES)})")


def reward_asset(asset: AssetId | None) -> Any:
    return "Native" if asset is None else {"Asset": asset}


@dataclass(frozen=True)
class TaskTerms:
    """Terms of a training task (pallet ``TaskTerms``)."""

    reward_per_round: Balance
    total_rounds: int
    min_trainers: int
    max_trainers: int
    trainer_stake: Balance
    round_length: int
    challenge_window: int
    aggregation: str = "fedavg"
    asset: AssetId | None = None
    jurisdictions: tuple[str, ...] = ()
    privacy: PrivacyTerms = NO_PRIVACY

    def to_chain(self) -> dict[str, Any]:
        for name in ("total_rounds", "min_trainers", "max_trainers", "round_length"):
            if getattr(self, name) <= 0:
                raise InputError(f"{name.replace('_', ' ')} must be positive")
        if self.min_trainers > self.max_trainers:
            raise InputError("min trainers cannot exceed max trainers")
        clipped = self.aggregation.strip().lower().startswith("clip:")
        if self.privacy.mode == "secagg" and not clipped:
            raise InputError(
                "secure aggregation needs the clip:<bound> rule (norm-bounded FedAvg, clipped "
                "on the client): robust rules cannot see the individual updates it masks"
            )
        return {
            "asset": reward_asset(self.asset),
            "reward_per_round": self.reward_per_round,
            "total_rounds": self.total_rounds,
            "min_trainers": self.min_trainers,
            "max_trainers": self.max_trainers,
            "trainer_stake": self.trainer_stake,
            "round_length": self.round_length,
            "challenge_window": self.challenge_window,
            "aggregation": aggregation_rule(self.aggregation),
            "jurisdictions": jurisdictions(self.jurisdictions),
            "privacy": self.privacy.to_chain(),
        }


def proposal_kind(kind: str, **fields: Any) -> dict[str, Any]:
    """Build a ``ProposalKind`` value. Kinds: approve-version, reject-version, licence,
    jurisdictions, safety, resolve-challenge, parameter."""
    if kind in ("approve-version", "reject-version"):
        name = "ApproveVersion" if kind == "approve-version" else "RejectVersion"
        return {name: {"model": int(fields["model"]), "version": int(fields["version"])}}
    if kind == "licence":
        return {"SetLicence": {"model": int(fields["model"]), "licence": fields["licence"]}}
    if kind == "jurisdictions":
        return {
            "SetJurisdictions": {
                "model": int(fields["model"]),
                "jurisdictions": jurisdictions(fields["jurisdictions"]),
            }
        }
    if kind == "safety":
        action = str(fields["action"]).capitalize()
        if action not in SAFETY_ACTIONS:
            raise InputError(
                f"unknown safety action {fields['action']!r} (use {', '.join(SAFETY_ACTIONS)})"
            )
        return {"Safety": {"model": int(fields["model"]), "action": action}}
    if kind == "resolve-challenge":
        return {"ResolveChallenge": {"task": int(fields["task"]), "round": int(fields["round"])}}
    if kind == "parameter":
        key = str(fields["name"]).replace("-", "_")
        if key not in PARAMETERS:
            raise InputError(f"unknown parameter {fields['name']!r} (use {', '.join(PARAMETERS)})")
        variant, unit = PARAMETERS[key]
        raw = fields["value"]
        if unit == "perbill":
            value = percent_perbill(str(raw), key)
        else:
            if not str(raw).isdigit():
                raise InputError(f"{key} must be a whole number, got {raw!r}")
            value = int(raw)
        return {"SetParameter": {variant: value}}
    raise InputError(f"unknown proposal kind {kind!r}")


def conviction(level: int | str) -> str:
    if isinstance(level, str) and level in CONVICTIONS:
        return level
    try:
        index = int(level)
    except ValueError:
        raise InputError(f"conviction must be 0-6, got {level!r}") from None
    if not 0 <= index <= 6:
        raise InputError(f"conviction must be 0-6, got {index}")
    return CONVICTIONS[index]


@dataclass(frozen=True)
class AggregateClaim:
    """What an aggregator claims for a round: its new model (uploaded), the trainers whose
    updates it combines, and the metrics they reported."""

    round: int
    weights: ContentRef
    included: tuple[Address, ...]
    loss: float
    accuracy: float

    def params(self, task_id: TaskId) -> dict[str, Any]:
        """``submit_aggregate``'s parameters."""
        return {
            "task_id": task_id,
            "round": self.round,
            "weights": self.weights.to_chain(),
            "included": bounded(list(self.included)),
            "metrics": metrics(self.loss, self.accuracy),
        }


class DecentralMl(DecentralMlReader):
    """Calls (and queries) of the DecentralMl pallet over a :class:`ChainClient`."""

    def __init__(self, client: ChainClient) -> None:
        super().__init__(client)
        self.client = client

    def _args(self, call: str) -> list[str]:
        for item in self.client.calls(PALLET):
            if item["name"] == call:
                return [a["name"] for a in item["args"]]
        raise UnknownCall(f"the runtime has no call {PALLET}.{call}")

    def call(
        self,
        signer: Keypair,
        call: str,
        params: dict[str, Any],
        *,
        on_fee: Callable[[FeeEstimate], bool] = accept_any_fee,
    ) -> Receipt:
        return self.client.submit(signer, PALLET, call, params, on_fee=on_fee)

    # -- models
    def register_model(
        self,
        signer: Keypair,
        name: str,
        architecture: ContentRef,
        initial_weights: ContentRef,
        *,
        licence: dict[str, Any] | None = None,
        jurisdictions: Sequence[str] = (),
        on_fee: Callable[[FeeEstimate], bool] = accept_any_fee,
    ) -> tuple[ModelId, Receipt]:
        params = model_registration(
            name, architecture, initial_weights, licence=licence, jurisdictions=jurisdictions
        )
        receipt = self.call(signer, "register_model", params, on_fee=on_fee)
        event = receipt.first(PALLET, "ModelRegistered")
        return int(event.attributes["model_id"]), receipt

    def retire_model(self, signer: Keypair, model_id: ModelId, **kw: Any) -> Receipt:
        return self.call(signer, "retire_model", {"model_id": model_id}, **kw)

    # -- trainers
    def set_trainer_profile(self, signer: Keypair, code: str, **kw: Any) -> Receipt:
        return self.call(signer, "set_trainer_profile", {"jurisdiction": jurisdiction(code)}, **kw)

    def clear_trainer_profile(self, signer: Keypair, **kw: Any) -> Receipt:
        return self.call(signer, "clear_trainer_profile", {}, **kw)

    # -- tasks
    def create_task(
        self, signer: Keypair, model_id: ModelId, terms: TaskTerms, **kw: Any
    ) -> tuple[TaskId, Receipt]:
        receipt = self.call(
            signer, "create_task", {"model_id": model_id, "terms": terms.to_chain()}, **kw
        )
        event = receipt.first(PALLET, "TaskCreated")
        return int(event.attributes["task_id"]), receipt

    def task_call(self, signer: Keypair, call: str, task_id: TaskId, **kw: Any) -> Receipt:
        """cancel_task, expire_task, join_task, leave_task, bond_aggregator,
        unbond_aggregator, bond_verifier, unbond_verifier, start_round."""
        return self.call(signer, call, {"task_id": task_id}, **kw)

    def commit_update(
        self, signer: Keypair, task_id: TaskId, round_index: int, commitment: bytes, **kw: Any
    ) -> Receipt:
        """Publish only the hash of an update (see :func:`update_commitment`)."""
        if len(commitment) != 32:
            raise InputError("a commitment is 32 bytes (blake2-256)")
        params = {"task_id": task_id, "round": round_index, "commitment": to_hex(commitment)}
        return self.call(signer, "commit_update", params, **kw)

    def reveal_update(
        self,
        signer: Keypair,
        task_id: TaskId,
        round_index: int,
        update: ContentRef,
        samples: int,
        loss: float,
        accuracy: float,
        salt: bytes,
        **kw: Any,
    ) -> Receipt:
        """Open a commitment: the update, its samples and metrics, and the salt."""
        if samples <= 0:
            raise InputError("an update needs a positive sample count")
        if len(salt) != 32:
            raise InputError("a commitment salt is 32 bytes")
        params = {
            "task_id": task_id,
            "round": round_index,
            "update": update.to_chain(),
            "samples": samples,
            "metrics": metrics(loss, accuracy),
            "salt": to_hex(salt),
        }
        return self.call(signer, "reveal_update", params, **kw)

    def submit_aggregate(
        self, signer: Keypair, task_id: TaskId, claim: AggregateClaim, **kw: Any
    ) -> Receipt:
        return self.call(signer, "submit_aggregate", claim.params(task_id), **kw)

    def finalize_then_submit(
        self, signer: Keypair, task_id: TaskId, pending: int, claim: AggregateClaim
    ) -> tuple[Receipt | ExtrinsicFailed, Receipt | ExtrinsicFailed]:
        """``finalize_round(pending)`` and the next round's ``submit_aggregate`` back to back:
        consecutive nonces, so a block holds both in order and the aggregate, which waits for
        the pending round, lands in the same block as its finalization. Each call's outcome."""
        finalize = CallSpec(PALLET, "finalize_round", {"task_id": task_id, "round": pending})
        submit = CallSpec(PALLET, "submit_aggregate", claim.params(task_id))
        first, second = self.client.submit_each(signer, [finalize, submit])
        return first, second

    def challenge_aggregate(
        self, signer: Keypair, task_id: TaskId, round_index: int, evidence: ContentRef, **kw: Any
    ) -> Receipt:
        params = {"task_id": task_id, "round": round_index, "evidence": evidence.to_chain()}
        return self.call(signer, "challenge_aggregate", params, **kw)

    def attest_aggregate(
        self, signer: Keypair, task_id: TaskId, round_index: int, digest: bytes, **kw: Any
    ) -> Receipt:
        """As a bonded verifier, attest the aggregate digest one recomputed (32 bytes; all
        zero when no valid aggregate exists)."""
        if len(digest) != 32:
            raise InputError("an attested digest is 32 bytes (sha-256 of the aggregate file)")
        params = {"task_id": task_id, "round": round_index, "digest": to_hex(digest)}
        return self.call(signer, "attest_aggregate", params, **kw)

    def report_free_rider(
        self,
        signer: Keypair,
        task_id: TaskId,
        round_index: int,
        trainer: Address,
        kind: str,
        evidence: ContentRef,
        **kw: Any,
    ) -> Receipt:
        """As a bonded verifier, report ``trainer``'s revealed update as a free rider of
        ``kind`` (copy, zero, noise) with ``evidence`` (what it duplicates)."""
        if kind not in FREE_RIDER_KINDS:
            known = ", ".join(FREE_RIDER_KINDS)
            raise InputError(f"unknown free-rider kind {kind!r} (use {known})")
        params = {
            "task_id": task_id,
            "round": round_index,
            "trainer": trainer,
            "kind": FREE_RIDER_KINDS[kind],
            "evidence": evidence.to_chain(),
        }
        return self.call(signer, "report_free_rider", params, **kw)

    def publish_keys(
        self, signer: Keypair, task_id: TaskId, keys: ContentRef, **kw: Any
    ) -> Receipt:
        """As a trainer of a secure-aggregation task, publish one's key document (once)."""
        params = {"task_id": task_id, "keys": keys.to_chain()}
        return self.call(signer, "publish_keys", params, **kw)

    def publish_shares(
        self, signer: Keypair, task_id: TaskId, round_index: int, shares: ContentRef, **kw: Any
    ) -> Receipt:
        """As a member of a secure-aggregation round, publish one's unmasking shares."""
        params = {"task_id": task_id, "round": round_index, "shares": shares.to_chain()}
        return self.call(signer, "publish_shares", params, **kw)

    def finalize_round(
        self, signer: Keypair, task_id: TaskId, round_index: int, **kw: Any
    ) -> Receipt:
        return self.call(signer, "finalize_round", {"task_id": task_id, "round": round_index}, **kw)

    # -- governance
    def submit_proposal(
        self, signer: Keypair, kind: dict[str, Any], **kw: Any
    ) -> tuple[ProposalId, Receipt]:
        receipt = self.call(signer, "submit_proposal", {"kind": kind}, **kw)
        event = receipt.first(PALLET, "ProposalSubmitted")
        return int(event.attributes["proposal_id"]), receipt

    def vote(
        self,
        signer: Keypair,
        proposal_id: ProposalId,
        aye: bool,
        balance: Balance,
        conviction_level: int | str = 0,
        **kw: Any,
    ) -> Receipt:
        if balance <= 0:
            raise InputError("a vote needs a positive balance")
        params = {
            "proposal_id": proposal_id,
            "aye": aye,
            "balance": balance,
            "conviction": conviction(conviction_level),
        }
        return self.call(signer, "vote", params, **kw)

    def close_proposal(self, signer: Keypair, proposal_id: ProposalId, **kw: Any) -> Receipt:
        return self.call(signer, "close_proposal", {"proposal_id": proposal_id}, **kw)

    def unlock(self, signer: Keypair, target: Address, **kw: Any) -> Receipt:
        return self.call(signer, "unlock", {"target": target}, **kw)
