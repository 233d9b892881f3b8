"""One extrinsic the user asked for, and whether the active account can pay for it.

Every panel builds :class:`Action` values with its pure builders (in the panel's own view
module); the app confirms one with its fee and :func:`shortfall`, then a backend executes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .common import NATIVE, Token


@dataclass(frozen=True)
class Action:
    """One extrinsic the user asked for, with what it spends or locks."""

    title: str
    pallet: str
    call: str
    params: dict[str, Any]
    amount: int = 0
    token: Token = NATIVE
    effect: str = ""
    """What happens to the amount: 'transferred', 'escrowed', 'staked', 'locked', 'deposit'."""
    details: tuple[str, ...] = ()


@dataclass(frozen=True)
class Funds:
    """What the active account has, read just before a confirmation dialog."""

    transferable: int
    """Native: what may pay fees, transfers, stakes, escrows and deposits."""
    total: int
    """Native free + held: the most a vote may lock (vote locks overlap other holds)."""
    asset: int = 0
    """The balance of the action's asset (asset actions only)."""


LOCKED = "locked"
"""``Action.effect`` of a vote: a freeze that may overlap funds already held or frozen."""


def shortfall(action: Action, fee: int, funds: Funds, native: Token) -> str | None:
    """Why the active account cannot pay ``action`` and its ``fee``, or None if it can."""
    f, token = native.fmt, action.token
    if token.asset is not None:
        if action.amount > funds.asset:
            return (
                f"insufficient {token.symbol} balance: have {token.fmt(funds.asset)}, "
                f"need {token.fmt(action.amount)} (+ fee {f(fee)})"
            )
        if fee > funds.transferable:
            return f"insufficient balance: have {f(funds.transferable)}, need fee {f(fee)}"
        return None
    if action.effect == LOCKED:
        if action.amount > funds.total or fee > funds.transferable:
            return (
                f"insufficient balance: have {f(funds.total)} (free and held), "
                f"need {f(action.amount)} (+ fee {f(fee)})"
            )
        return None
    if action.amount + fee > funds.transferable:
        return (
            f"insufficient balance: have {f(funds.transferable)}, "
            f"need {f(action.amount)} (+ fee {f(fee)})"
        )
    return None
