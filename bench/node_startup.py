"""Benchmark: node-decentralml --dev start to RPC ready, and the runtime wasm size.

Target (issue 2): RPC answers at most 10 s after start. Runs the node N times on fresh
temporary databases and reports the median and worst time from spawn to the first
`system_health` answer, plus the time to the first finalized block.

    .venv/bin/python bench/node_startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.integration.devnode import DevNode, node_binary, rpc_call  # noqa: E402


def wasm_size() -> int | None:
    target = node_binary().parent
    wasm = target / "wbuild" / "decentralml-runtime" / "decentralml_runtime.wasm"
    return wasm.stat().st_size if wasm.exists() else None


def one_run() -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        node = DevNode(base_path=Path(tmp))
        try:
            node.start()
            ready = node.ready_after_s
            while True:
                head = rpc_call(node.rpc_port, "chain_getFinalizedHead")
                number = int(rpc_call(node.rpc_port, "chain_getHeader", [head])["number"], 16)
                if number >= 1:
                    return ready, time.monotonic() - node.started_at
                time.sleep(0.05)
        finally:
            node.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    ready, finalized = zip(*(one_run() for _ in range(args.runs)))
    results = [
        {"name": "rpc_ready_median", "value": round(statistics.median(ready), 2), "unit": "s", "target": "<= 10", "met": statistics.median(ready) <= 10},
        {"name": "rpc_ready_worst", "value": round(max(ready), 2), "unit": "s", "target": "<= 10", "met": max(ready) <= 10},
        {"name": "first_finalized_block_median", "value": round(statistics.median(finalized), 2), "unit": "s", "target": None, "met": None},
    ]
    size = wasm_size()
    if size is not None:
        results.append({"name": "runtime_wasm", "value": round(size / 1024), "unit": "KiB", "target": None, "met": None})
    out = {
        "command": f".venv/bin/python bench/node_startup.py --runs {args.runs}",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} {platform.machine()} {platform.processor() or ''}".strip()
        + f", {__import__('os').cpu_count()} cores",
        "results": results,
    }
    dest = ROOT / "bench" / "results" / "node_startup.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
