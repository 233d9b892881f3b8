"""The proposals panel's records (a proposal and the voting thresholds) and its actions:
vote, submit, close.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from decentralml.core.errors import InputError
from decentralml.core.types import enum_name

from .actions import LOCKED, Action
from .common import PALLET, codes


@dataclass(frozen=True)
class Thresholds:
    standard_quorum: int = 1000
    standard_approval: int = 500_000_000
    safety_quorum: int = 2000
    safety_approval: int = 666_666_667
    proposal_deposit: int = 10**12
    voting_period: int = 150
    min_trainer_stake: int = 10**11


@dataclass(frozen=True)
class ProposalRow:
    id: int
    kind: str
    summary: str
    proposer: str
    status: str
    created_at: int
    ends_at: int
    ayes: int
    nays: int
    support: int
    deposit: int

    @property
    def safety(self) -> bool:
        return self.kind == "Safety"

    def approval(self) -> float:
        total = self.ayes + self.nays
        return self.ayes / total if total else 0.0

    @classmethod
    def from_fields(cls, proposal_id: int, f: dict[str, Any]) -> ProposalRow:
        kind_value = f.get("kind", "")
        tally = f.get("tally") or {}
        return cls(
            id=proposal_id,
            kind=enum_name(kind_value),
            summary=kind_summary(kind_value),
            proposer=str(f.get("proposer", "")),
            status=enum_name(f.get("status", "")),
            created_at=int(f.get("created_at", 0)),
            ends_at=int(f.get("ends_at", 0)),
            ayes=int(tally.get("ayes", 0)),
            nays=int(tally.get("nays", 0)),
            support=int(tally.get("support", 0)),
            deposit=int(f.get("deposit", 0)),
        )


def kind_summary(kind: Any) -> str:
    """``{"SetLicence": {"model": 0, ...}}`` -> ``model 0: licence Apache-2.0``."""
    name = enum_name(kind)
    body = next(iter(kind.values())) if isinstance(kind, dict) and kind else {}
    if not isinstance(body, dict):
        return f"{name} {body}"
    model = body.get("model")
    if name in ("ApproveVersion", "RejectVersion"):
        verb = "approve" if name == "ApproveVersion" else "reject"
        return f"model {model}: {verb} version {body.get('version')}"
    if name == "SetLicence":
        from decentralml.core.chain.records import licence_text

        return f"model {model}: licence {licence_text(body.get('licence')) or '?'}"
    if name == "SetJurisdictions":
        raw = body.get("jurisdictions") or []
        if isinstance(raw, list) and len(raw) == 1 and isinstance(raw[0], list):
            raw = raw[0]
        found = codes(raw)
        return f"model {model}: jurisdictions {' '.join(found) or 'anywhere'}"
    if name == "Safety":
        return f"model {model}: {str(body.get('action', '')).lower()}"
    if name == "ResolveChallenge":
        return f"task {body.get('task')} round {body.get('round')}: challenge"
    if name == "SetParameter":
        (param, value), *_ = body.items() if body else (("?", "?"),)
        return f"{param} = {value}"
    return name


def vote_action(proposal: ProposalRow, aye: bool, balance: int, conviction: int) -> Action:
    from decentralml.core.chain.decentralml import conviction as conviction_name

    if balance <= 0:
        raise InputError("a vote needs a positive amount")
    name = conviction_name(conviction)
    return Action(
        f"Vote {'aye' if aye else 'nay'} on proposal {proposal.id}",
        PALLET,
        "vote",
        {"proposal_id": proposal.id, "aye": aye, "balance": balance, "conviction": name},
        amount=balance,
        effect=LOCKED,
        details=(proposal.summary, f"conviction {name} ({conviction_weight(conviction)} votes)"),
    )


CONVICTION_LABELS = (
    "None: 0.1x votes, no lock",
    "Locked1x: 1x votes, locked 1 period",
    "Locked2x: 2x votes, locked 2 periods",
    "Locked3x: 3x votes, locked 4 periods",
    "Locked4x: 4x votes, locked 8 periods",
    "Locked5x: 5x votes, locked 16 periods",
    "Locked6x: 6x votes, locked 32 periods",
)


def conviction_weight(level: int) -> str:
    return "0.1x" if level == 0 else f"{level}x"


def proposal_action(kind: dict[str, Any], deposit: int) -> Action:
    return Action(
        "Submit a proposal",
        PALLET,
        "submit_proposal",
        {"kind": kind},
        amount=deposit,
        effect="held as deposit",
        details=(kind_summary(kind),),
    )


def close_action(proposal: ProposalRow) -> Action:
    return Action(
        f"Close proposal {proposal.id}",
        PALLET,
        "close_proposal",
        {"proposal_id": proposal.id},
        details=(proposal.summary,),
    )
