"""Records and read-only queries of the DecentralMl pallet.

Kept free of substrate-interface imports so listing commands can run over the light reader
(:mod:`.light`) and start fast.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..types import (
    Address,
    ContentRef,
    Model,
    ModelId,
    ProposalId,
    TaskId,
    decode_text,
    enum_name,
    from_hex,
)

PALLET = "DecentralMl"


# ---- records -----------------------------------------------------------------------------------
def plain_value(value: Any) -> Any:
    """Decoded SCALE value -> JSON-friendly plain data (text for printable byte strings)."""
    if isinstance(value, dict):
        if set(value) == {"cid", "digest", "size"}:
            return ContentRef.from_chain(value).to_json()
        return {str(k): plain_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_value(v) for v in value]
    return value


def _jurisdiction_codes(values: Any) -> list[str]:
    out = []
    for value in values or []:
        try:
            out.append(from_hex(value).decode("ascii"))
        except (ValueError, UnicodeDecodeError):
            out.append(str(value))
    return out


def licence_text(value: Any) -> str:
    if not isinstance(value, dict) or "terms" not in value:
        return ""
    terms = value["terms"]
    kind = enum_name(terms)
    if kind == "Spdx" and isinstance(terms, dict):
        return decode_text(terms["Spdx"])
    if kind == "Custom" and isinstance(terms, dict):
        return "custom:" + ContentRef.from_chain(terms["Custom"]).cid
    return kind


_MODEL_FIELDS = {
    "owner",
    "name",
    "architecture",
    "initial_weights",
    "status",
    "deposit",
    "registered_at",
}


def decode_model(model_id: int, value: dict[str, Any]) -> Model:
    extra = {k: plain_value(v) for k, v in value.items() if k not in _MODEL_FIELDS}
    if "jurisdictions" in value:
        extra["jurisdictions"] = _jurisdiction_codes(value["jurisdictions"])
    if "licence" in value:
        extra["licence_terms"] = licence_text(value["licence"])
    return Model(
        id=model_id,
        owner=str(value["owner"]),
        name=decode_text(value["name"]),
        architecture=ContentRef.from_chain(value["architecture"]),
        initial_weights=ContentRef.from_chain(value["initial_weights"]),
        status=enum_name(value["status"]),
        deposit=int(value["deposit"]),
        registered_at=int(value["registered_at"]),
        extra=extra,
    )


@dataclass(frozen=True)
class Record:
    """A protocol record (task, round, proposal ...) keyed by its storage key(s).

    ``fields`` is the decoded value as plain JSON data; the commonly shown fields have
    accessors. Records stay generic because the pallet still grows.
    """

    kind: str
    key: tuple[Any, ...]
    fields: dict[str, Any] = field(default_factory=dict)

    def get(self, name: str, default: Any = None) -> Any:
        return self.fields.get(name, default)

    def status(self) -> str:
        return enum_name(self.fields.get("status", ""))

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "key": list(self.key), **self.fields}


def _key(value: Any) -> tuple[Any, ...]:
    if isinstance(value, (list, tuple)):
        return tuple(value)
    return (value,)


# ---- the pallet --------------------------------------------------------------------------------
class StorageReader(Protocol):
    """Read access to storage: :class:`ChainClient` or the start-up-light ``LightReader``."""

    def storage(self, pallet: str, item: str, params: list[Any] | None = None) -> Any: ...

    def storage_entries(
        self, pallet: str, item: str, prefix: list[Any] | None = None
    ) -> list[tuple[Any, Any]]: ...


class DecentralMlReader:
    """Queries of the DecentralMl pallet (models, versions, tasks, rounds, proposals ...)."""

    def __init__(self, reader: StorageReader) -> None:
        self.reader = reader

    def model(self, model_id: ModelId) -> Model | None:
        value = self.reader.storage(PALLET, "Models", [model_id])
        return None if value is None else decode_model(model_id, value)

    def models(self) -> list[Model]:
        entries = self.reader.storage_entries(PALLET, "Models")
        return sorted((decode_model(int(k), v) for k, v in entries), key=lambda m: m.id)

    def records(self, item: str, kind: str, prefix: Sequence[Any] = ()) -> list[Record]:
        """Every entry of a map (of a double map: those under ``prefix``) as records."""
        entries = self.reader.storage_entries(PALLET, item, list(prefix) or None)
        out = [
            Record(
                kind,
                (*prefix, *_key(k)),
                plain_value(v) if isinstance(v, dict) else {"value": plain_value(v)},
            )
            for k, v in entries
        ]
        return sorted(out, key=lambda r: [str(x) for x in r.key])

    def record(self, item: str, kind: str, keys: Sequence[Any]) -> Record | None:
        value = self.reader.storage(PALLET, item, list(keys))
        if value is None:
            return None
        return Record(
            kind,
            tuple(keys),
            plain_value(value) if isinstance(value, dict) else {"value": plain_value(value)},
        )

    def tasks(self) -> list[Record]:
        return self.records("Tasks", "task")

    def task(self, task_id: TaskId) -> Record | None:
        return self.record("Tasks", "task", [task_id])

    def round(self, task_id: TaskId) -> Record | None:
        """The task's open round (commitments, reveals, awaiting its aggregate)."""
        return self.record("Rounds", "round", [task_id])

    def pending_round(self, task_id: TaskId) -> Record | None:
        """The task's aggregated round still in its challenge window (or challenged, or
        failed and not finalized): rounds are pipelined, the open one is the next."""
        return self.record("PendingRounds", "round", [task_id])

    def versions(self, model_id: ModelId) -> list[Record]:
        return self.records("Versions", "version", [model_id])

    def participants(self, task_id: TaskId) -> list[Record]:
        return self.records("Participants", "participant", [task_id])

    def updates(self, task_id: TaskId, round_index: int) -> list[Record]:
        """Revealed updates of a round of the task (until it is finalized)."""
        return self.records("Updates", "update", [task_id, round_index])

    def verifiers(self, task_id: TaskId) -> list[Record]:
        """Bonded verifiers of the task (the value is the bond)."""
        return self.records("Verifiers", "verifier", [task_id])

    def attestations(self, task_id: TaskId) -> list[Record]:
        """Each verifier's latest attestation (``round``, ``digest``, ``agrees``)."""
        return self.records("Attestations", "attestation", [task_id])

    def commitments(self, task_id: TaskId, round_index: int) -> list[Record]:
        """Commitments of a round of the task (revealed or not, until it is finalized)."""
        return self.records("Commitments", "commitment", [task_id, round_index])

    # -- secure aggregation
    def secagg_keys(self, task_id: TaskId) -> list[Record]:
        """Trainers' key documents (the value is its content reference)."""
        return self.records("SecAggKeys", "secagg-keys", [task_id])

    def round_members(self, task_id: TaskId, round_index: int) -> list[Address] | None:
        """The members a secure-aggregation round masks among (None: not such a round)."""
        value = self.reader.storage(PALLET, "RoundMembers", [task_id, round_index])
        return None if value is None else [str(a) for a in plain_value(value)]

    def unmask_shares(self, task_id: TaskId, round_index: int) -> list[Record]:
        """Members' published share documents of a round (until it is finalized)."""
        return self.records("UnmaskShares", "shares", [task_id, round_index])

    def trainer_profile(self, address: Address) -> Record | None:
        found = self.record("TrainerProfiles", "profile", [address])
        if found is not None and "jurisdiction" in found.fields:
            code = _jurisdiction_codes([found.fields["jurisdiction"]])[0]
            found = Record(found.kind, found.key, {**found.fields, "jurisdiction": code})
        return found

    def votes(self, address: Address) -> list[Any]:
        value = self.reader.storage(PALLET, "VotingOf", [address])
        plain = plain_value(value) if value is not None else []
        return list(plain) if isinstance(plain, list) else [plain]

    def proposals(self) -> list[Record]:
        return self.records("Proposals", "proposal")

    def proposal(self, proposal_id: ProposalId) -> Record | None:
        return self.record("Proposals", "proposal", [proposal_id])

    def params(self) -> dict[str, Any]:
        value = self.reader.storage(PALLET, "Params")
        plain: dict[str, Any] = plain_value(value) if isinstance(value, dict) else {}
        return plain
