"""Benchmark: node-decentralml --dev start to RPC ready, and the runtime wasm size.

Target (issue 2): RPC answers at most 10 s after start. Runs the node N times on fresh
temporary databases and reports the median and worst time from spawn to the first
`system_health` answer, plus the time to the first finalized block.

    .venv/bin/python bench/node_startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from _results import result, write

from tests.integration.devnode import DevNode, node_binary, rpc_call


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
    runs = [one_run() for _ in range(args.runs)]
    ready = [r for r, _ in runs]
    finalized = [f for _, f in runs]
    results = [
        result(
            "rpc_ready_median",
            round(statistics.median(ready), 2),
            "s",
            "<= 10",
            statistics.median(ready) <= 10,
        ),
        result("rpc_ready_worst", round(max(ready), 2), "s", "<= 10", max(ready) <= 10),
        result(
            "first_finalized_block_median", round(statistics.median(finalized), 2), "s", None, None
        ),
    ]
    size = wasm_size()
    if size is not None:
        results.append(result("runtime_wasm", round(size / 1024), "KiB", None, None))
    write("node_startup", f".venv/bin/python bench/node_startup.py --runs {args.runs}", results)


if __name__ == "__main__":
    main()
