"""Shared helpers for the benchmark scripts: machine description and the results file."""

from __future__ import annotations

import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        load = f"load {os.getloadavg()[0]:.2f}"
    except OSError:
        load = ""
    return f"{platform.node()} {platform.machine()}, {cpu}, {os.cpu_count()} cores, {load}".strip(
        ", "
    )


def result(
    name: str, value: float, unit: str, target: str | None, met: bool | None
) -> dict[str, Any]:
    return {"name": name, "value": value, "unit": unit, "target": target, "met": met}


def write(script: str, command: str, results: list[dict[str, Any]]) -> dict[str, Any]:
    out = {
        "command": command,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "results": results,
    }
    dest = ROOT / "bench" / "results" / f"{script}.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
    return out
