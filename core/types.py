"""Domain records and type aliases, mirroring the DecentralMl pallet's types.

Records are frozen dataclasses built from decoded chain values; enums carry the pallet's
variant names as their values so they round-trip through substrate-interface unchanged.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from .errors import InputError

# ---- aliases ------------------------------------------------------------------------
Address = str
"""An SS58 address."""
Balance = int
"""An amount in the smallest unit (planck); 1 DML = 10**12."""
BlockNumber = int
ModelId = int
AssetId = int
TaskId = int
ProposalId = int
Hash = str
"""A 0x-prefixed hex hash (block or extrinsic)."""
Cid = str
"""An IPFS CID in its string form."""

NATIVE_DECIMALS = 12
NATIVE_SYMBOL = "DML"
# A task's default aggregation rule (CLI, demo): median-aligned, norm-bounded FedAvg, measured
# in bench/fl_robustness.py against five attacks and against clean FedAvg.
DEFAULT_AGGREGATION = "aligned"

_HEX_RE = re.compile(r"^(0x)?[0-9a-fA-F]*$")


# ---- amounts ----------------------------------------------------------------------------
_AMOUNT_RE = re.compile(r"^\s*(\d+)(?:\.(\d+))?\s*$")


def parse_amount(text: str, decimals: int = NATIVE_DECIMALS) -> Balance:
    """Parse a human amount ("1.5", "1000", "0.000000000001") into planck.

    Raises :class:`InputError` for anything else: signs, exponents, commas, more fractional
    digits than the token has, or an empty string.
    """
    match = _AMOUNT_RE.match(text)
    if match is None:
        raise InputError(
            f"malformed amount {text!r}: use digits with an optional decimal point, e.g. 1.5"
        )
    whole, frac = match.group(1), match.group(2) or ""
    if len(frac) > decimals:
        raise InputError(
            f"malformed amount {text!r}: at most {decimals} digits after the decimal point"
        )
    scale: int = 10**decimals
    return int(whole) * scale + int(frac.ljust(decimals, "0") or "0")


def parse_planck(text: str) -> Balance:
    """Parse an integer amount in the smallest unit."""
    if not re.fullmatch(r"\s*\d+\s*", text):
        raise InputError(f"malformed amount {text!r}: expected a whole number of planck")
    return int(text)


def format_amount(value: Balance, decimals: int = NATIVE_DECIMALS, symbol: str = "") -> str:
    """Format planck as a human amount without losing precision ("1.5 DML")."""
    try:
        text = format(Decimal(value).scaleb(-decimals).normalize(), "f")
    except InvalidOperation:  # pragma: no cover - Decimal handles every int
        text = str(value)
    return f"{text} {symbol}".strip()


# ---- hex / bytes -----------------------------------------------------------------------
def to_hex(data: bytes) -> str:
    return "0x" + data.hex()


def from_hex(value: str | bytes | list[int]) -> bytes:
    """Decode what substrate-interface returns for byte fields (hex string, bytes or list)."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, list):
        return bytes(value)
    if not _HEX_RE.match(value):
        # substrate-interface decodes printable byte vectors to str.
        return value.encode()
    return bytes.fromhex(value[2:] if value.startswith("0x") else value)


def decode_text(value: Any) -> str:
    """A ``BoundedVec<u8>`` that holds UTF-8 text, as substrate-interface returns it."""
    if isinstance(value, str) and value.startswith("0x") and _HEX_RE.match(value):
        return bytes.fromhex(value[2:]).decode("utf-8", errors="replace")
    if isinstance(value, (bytes, list)):
        return from_hex(value).decode("utf-8", errors="replace")
    return str(value)


# ---- enums (values are the pallet's variant names) ---------------------------------------
class ModelStatus(enum.Enum):
    ACTIVE = "Active"
    FLAGGED = "Flagged"
    SUSPENDED = "Suspended"
    RETIRED = "Retired"


class ChainType(enum.Enum):
    """``system_chainType``."""

    DEVELOPMENT = "Development"
    LOCAL = "Local"
    LIVE = "Live"
    CUSTOM = "Custom"


def enum_name(value: Any) -> str:
    """The variant name of a decoded SCALE enum (``"Active"`` or ``{"Custom": ...}``)."""
    if isinstance(value, dict) and len(value) == 1:
        return str(next(iter(value)))
    return str(value)


# ---- records ----------------------------------------------------------------------------
@dataclass(frozen=True)
class ContentRef:
    """A CID with the sha256 digest and size of the bytes it names (pallet ``ContentRef``)."""

    cid: Cid
    digest: bytes
    size: int

    def __post_init__(self) -> None:
        if not self.cid:
            raise InputError("a content reference needs a CID")
        if len(self.digest) != 32:
            raise InputError("a content reference's digest must be 32 bytes (sha256)")
        if self.size < 0:
            raise InputError("a content reference's size cannot be negative")

    @property
    def digest_hex(self) -> str:
        return self.digest.hex()

    def to_chain(self) -> dict[str, Any]:
        return {"cid": to_hex(self.cid.encode()), "digest": to_hex(self.digest), "size": self.size}

    @classmethod
    def from_chain(cls, value: dict[str, Any]) -> ContentRef:
        return cls(
            cid=decode_text(value["cid"]),
            digest=from_hex(value["digest"]),
            size=int(value["size"]),
        )

    def to_json(self) -> dict[str, Any]:
        return {"cid": self.cid, "sha256": self.digest_hex, "size": self.size}


@dataclass(frozen=True)
class Model:
    """A registered model (pallet ``Model``)."""

    id: ModelId
    owner: Address
    name: str
    architecture: ContentRef
    initial_weights: ContentRef
    status: str
    deposit: Balance
    registered_at: BlockNumber
    extra: dict[str, Any] = field(default_factory=dict)
    """Fields added by newer runtimes (licence, jurisdictions ...), as decoded."""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "owner": self.owner,
            "name": self.name,
            "status": self.status,
            "deposit": str(self.deposit),
            "registered_at": self.registered_at,
            "architecture": self.architecture.to_json(),
            "initial_weights": self.initial_weights.to_json(),
            "extra": self.extra,
        }


@dataclass(frozen=True)
class Hold:
    reason: str
    amount: Balance


@dataclass(frozen=True)
class Lock:
    id: str
    amount: Balance
    reasons: str


@dataclass(frozen=True)
class NativeBalance:
    """An account's native balance with what is held, frozen or locked, and why."""

    address: Address
    free: Balance
    reserved: Balance
    frozen: Balance
    nonce: int
    holds: tuple[Hold, ...] = ()
    locks: tuple[Lock, ...] = ()
    freezes: tuple[Hold, ...] = ()

    @property
    def transferable(self) -> Balance:
        return max(0, self.free - self.frozen)

    def to_json(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "free": str(self.free),
            "reserved": str(self.reserved),
            "frozen": str(self.frozen),
            "transferable": str(self.transferable),
            "nonce": self.nonce,
            "holds": [{"reason": h.reason, "amount": str(h.amount)} for h in self.holds],
            "freezes": [{"reason": h.reason, "amount": str(h.amount)} for h in self.freezes],
            "locks": [
                {"id": lk.id, "amount": str(lk.amount), "reasons": lk.reasons} for lk in self.locks
            ],
        }


@dataclass(frozen=True)
class AssetInfo:
    id: AssetId
    owner: Address
    admin: Address
    supply: Balance
    min_balance: Balance
    accounts: int
    status: str
    name: str = ""
    symbol: str = ""
    decimals: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "owner": self.owner,
            "admin": self.admin,
            "supply": str(self.supply),
            "min_balance": str(self.min_balance),
            "accounts": self.accounts,
            "status": self.status,
            "name": self.name,
            "symbol": self.symbol,
            "decimals": self.decimals,
        }


@dataclass(frozen=True)
class AssetBalance:
    asset_id: AssetId
    address: Address
    balance: Balance
    status: str

    def to_json(self) -> dict[str, Any]:
        return {
            "asset_id": self.asset_id,
            "address": self.address,
            "balance": str(self.balance),
            "status": self.status,
        }


@dataclass(frozen=True)
class ChainEvent:
    """One runtime event, as decoded from a block."""

    pallet: str
    name: str
    attributes: Any
    block_number: BlockNumber | None = None
    extrinsic_index: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "pallet": self.pallet,
            "event": self.name,
            "attributes": self.attributes,
            "block": self.block_number,
            "extrinsic_index": self.extrinsic_index,
        }


@dataclass(frozen=True)
class FeeEstimate:
    partial_fee: Balance
    weight: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        return {"partial_fee": str(self.partial_fee), "weight": self.weight}


@dataclass(frozen=True)
class Receipt:
    """A checked receipt: returned only for extrinsics whose dispatch succeeded."""

    extrinsic_hash: Hash
    block_hash: Hash
    block_number: BlockNumber
    pallet: str
    call: str
    fee: Balance
    events: tuple[ChainEvent, ...]

    def find(self, pallet: str, name: str) -> list[ChainEvent]:
        return [e for e in self.events if e.pallet == pallet and e.name == name]

    def first(self, pallet: str, name: str) -> ChainEvent:
        found = self.find(pallet, name)
        if not found:
            from .errors import ChainError

            raise ChainError(
                f"{self.pallet}.{self.call} succeeded but emitted no {pallet}.{name} event"
            )
        return found[0]

    def to_json(self) -> dict[str, Any]:
        return {
            "extrinsic_hash": self.extrinsic_hash,
            "block_hash": self.block_hash,
            "block_number": self.block_number,
            "call": f"{self.pallet}.{self.call}",
            "fee": str(self.fee),
            "events": [e.to_json() for e in self.events],
        }


@dataclass(frozen=True)
class BlockHeader:
    number: BlockNumber
    hash: Hash
    parent_hash: Hash

    def to_json(self) -> dict[str, Any]:
        return {"number": self.number, "hash": self.hash, "parent_hash": self.parent_hash}


@dataclass(frozen=True)
class StoredContent:
    """What the content store returns after adding bytes."""

    ref: ContentRef
    pinned: bool

    def to_json(self) -> dict[str, Any]:
        return {**self.ref.to_json(), "pinned": self.pinned}
