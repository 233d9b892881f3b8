"""What every panel shows: the chain, its heads and how to print an amount of a token."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from decentralml.core.types import AssetId, decode_text, format_amount

PERBILL = 1_000_000_000

PALLET = "DecentralMl"


@dataclass(frozen=True)
class Token:
    """How to show amounts of one asset (native: asset None)."""

    symbol: str
    decimals: int
    asset: AssetId | None = None

    def fmt(self, value: int) -> str:
        return format_amount(value, self.decimals, self.symbol)


NATIVE = Token("DML", 12)


@dataclass(frozen=True)
class ChainInfo:
    chain: str
    chain_type: str
    token: Token
    block_time_s: float = 2.0


def codes(values: Iterable[Any]) -> list[str]:
    out = []
    for value in values:
        text = decode_text(value) if isinstance(value, (str, bytes, list)) else str(value)
        out.append(text)
    return out


@dataclass(frozen=True)
class Heads:
    best: int
    finalized: int
