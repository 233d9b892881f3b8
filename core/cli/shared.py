"""What the protocol command modules share: the pallet's call and storage wrappers for a
command's context, and the table-or-JSON listing of records."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import InputError
from .output import table

if TYPE_CHECKING:
    from ..chain.decentralml import DecentralMl
    from ..chain.records import DecentralMlReader
    from .context import Context


def dml(ctx: Context) -> DecentralMl:
    """The pallet's calls and typed reads over the command's chain connection."""
    from ..chain.decentralml import DecentralMl

    return DecentralMl(ctx.chain)


def reader(ctx: Context) -> DecentralMlReader:
    """Bulk storage reads (lists of records) over the command's read connection."""
    from ..chain.records import DecentralMlReader

    return DecentralMlReader(ctx.reader)


def records(
    ctx: Context, found: list[Any], columns: list[tuple[str, str]], key: str
) -> dict[str, Any]:
    """``{key: [record JSON]}``; without ``--json`` also a table of ``columns`` (an enum
    shown by its variant name)."""
    data = [r.to_json() for r in found]
    if not ctx.json:
        rows = []
        for r in data:
            row = {"id": r["key"][0] if len(r["key"]) == 1 else r["key"]}
            for name, _ in columns:
                if name != "id":
                    value = r.get(name)
                    row[name] = (
                        value
                        if not isinstance(value, dict) or len(value) != 1
                        else next(iter(value))
                    )
            rows.append(row)
        table(rows, columns)
    return {key: data}


def amount(ctx: Context, text: str, planck: bool, asset: int | None) -> int:
    """An amount typed in token units (or planck) of the native token or `asset`."""
    from ..types import parse_amount, parse_planck

    if planck:
        return parse_planck(text)
    if asset is None:
        return ctx.native_amount(text, False)
    info = ctx.chain.asset(asset)
    if info is None:
        raise InputError(f"no asset with id {asset}")
    return parse_amount(text, info.decimals)
