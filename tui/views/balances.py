"""The balances panel's record (free, held, frozen, stakes, vote unlocks) and its actions:
transfer, unlock, trainer profile.
"""

from __future__ import annotations

from dataclasses import dataclass

from decentralml.core.errors import InputError

from .actions import Action
from .common import PALLET, Token


@dataclass(frozen=True)
class Amount:
    """One line of a balance breakdown: what, how much, why, until when."""

    kind: str
    reason: str
    amount: int
    token: Token
    until: str = ""


@dataclass(frozen=True)
class BalanceView:
    address: str
    free: int
    transferable: int
    reserved: int
    frozen: int
    token: Token
    held: tuple[Amount, ...] = ()
    assets: tuple[tuple[Token, int], ...] = ()
    stakes: tuple[tuple[int, int, Token, bool], ...] = ()
    """(task, stake, token, leaving)"""
    unlocks: tuple[tuple[int, int, str, int], ...] = ()
    """(proposal, balance, conviction, unlock_at block)"""


def transfer_action(dest: str, amount: int, token: Token) -> Action:
    from substrateinterface import Keypair

    try:
        Keypair(ss58_address=dest)
    except (ValueError, TypeError, IndexError):
        raise InputError(f"invalid address {dest!r} (expected an SS58 address)") from None
    if amount <= 0:
        raise InputError("the amount must be positive")
    if token.asset is None:
        return Action(
            "Transfer",
            "Balances",
            "transfer_keep_alive",
            {"dest": dest, "value": amount},
            amount=amount,
            token=token,
            effect="transferred",
            details=(f"to {dest}",),
        )
    return Action(
        f"Transfer {token.symbol}",
        "Assets",
        "transfer",
        {"id": token.asset, "target": dest, "amount": amount},
        amount=amount,
        token=token,
        effect="transferred",
        details=(f"to {dest}",),
    )


def unlock_action(address: str) -> Action:
    return Action("Unlock expired votes", PALLET, "unlock", {"target": address})


def profile_action(code: str) -> Action:
    from decentralml.core.chain.decentralml import jurisdiction

    return Action(
        f"Set trainer profile ({code.upper()})",
        PALLET,
        "set_trainer_profile",
        {"jurisdiction": jurisdiction(code)},
    )
