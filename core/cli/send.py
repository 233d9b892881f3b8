"""Sending one action and reporting it: the fee gate, ``--dry-run``, the checked receipt.

Every command that spends goes through :func:`send`, so a dry run, a fee estimate and a failed
dispatch are reported the same way by every command.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from ..errors import Cancelled
from ..types import format_amount

if TYPE_CHECKING:
    from ..types import Receipt
    from .context import Context


def say(ctx: Context, text: str) -> None:
    """Print a line of the readable view (nothing with ``--json``)."""
    if not ctx.json:
        sys.stdout.write(text + "\n")


def tx_result(ctx: Context, receipt: Receipt, gate: Any, **summary: Any) -> dict[str, Any]:
    symbol, decimals = ctx.chain.token()
    estimate = gate.estimate.partial_fee if gate.estimate else None
    result = {
        "dry_run": False,
        "call": f"{receipt.pallet}.{receipt.call}",
        "fee_estimate": None if estimate is None else str(estimate),
        "receipt": receipt.to_json(),
        **summary,
    }
    say(ctx, f"included in block #{receipt.block_number} ({receipt.block_hash})")
    say(ctx, f"fee paid: {format_amount(receipt.fee, decimals, symbol)}")
    for key, value in summary.items():
        say(ctx, f"{key}: {value}")
    return result


def dry_run(ctx: Context, call: str, gate: Any) -> dict[str, Any]:
    estimate = gate.estimate.partial_fee if gate.estimate else None
    say(ctx, "dry run: nothing was sent")
    return {
        "dry_run": True,
        "call": call,
        "fee_estimate": None if estimate is None else str(estimate),
    }


def send(ctx: Context, call: str, action: Any, **summary: Any) -> dict[str, Any]:
    """Run ``action(on_fee)`` -> receipt (or (value, receipt)); handle --dry-run."""
    gate = ctx.fee_gate()
    try:
        out = action(gate)
    except Cancelled:
        if getattr(ctx.args, "dry_run", False):
            return dry_run(ctx, call, gate)
        raise
    if isinstance(out, tuple):
        value, receipt = out
        summary = {**summary, **value} if isinstance(value, dict) else summary
    else:
        receipt = out
    return tx_result(ctx, receipt, gate, **summary)
