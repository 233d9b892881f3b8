"""Plain-text tables and JSON output for the CLI (no rich: the core never imports it)."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO


def to_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=_default)


def _default(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if hasattr(value, "to_json"):
        return value.to_json()
    return str(value)


def table(
    rows: Sequence[dict[str, Any]],
    columns: Sequence[tuple[str, str]],
    *,
    out: TextIO | None = None,
    empty: str = "(none)",
) -> None:
    """Print ``rows`` as an aligned table with the given (key, header) columns."""
    out = out or sys.stdout
    if not rows:
        out.write(empty + "\n")
        return
    cells = [[_cell(row.get(key)) for key, _ in columns] for row in rows]
    headers = [header for _, header in columns]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    out.write("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip() + "\n")
    out.write("  ".join("-" * w for w in widths) + "\n")
    for row in cells:
        out.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n")


def pairs(items: Sequence[tuple[str, Any]], *, out: TextIO | None = None) -> None:
    """Print ``key: value`` lines, aligned."""
    out = out or sys.stdout
    width = max((len(k) for k, _ in items), default=0)
    for key, value in items:
        out.write(f"{key.ljust(width)}  {_cell(value)}\n")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, default=_default)
    return str(value)
