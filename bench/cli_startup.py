"""Benchmark: start-up time of the `decentralml` command.

Target (issue 4): `decentralml --help` and `decentralml task list --json` each finish in at
most 0.5 s, TensorFlow not imported. `task list` runs against a real node-decentralml --dev
started here on free ports (connect, metadata, one storage query, JSON out: the whole
command, wall-clock, as a user would time it). The first run against a runtime builds its
metadata decoding plan (core/chain/scaleplan.py) and is reported on its own; the median is
over the runs after it.

    .venv/bin/python bench/cli_startup.py [--runs 10]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _results import ROOT, result, write

from tests.integration.devnode import DevNode

CLI = str(Path(sys.executable).parent / "decentralml")
TARGET_S = 0.5


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    proc = subprocess.run([CLI, *argv], env=env, capture_output=True, text=True)
    return time.perf_counter() - started, proc


def median_of(argv: list[str], env: dict[str, str], runs: int) -> float:
    times = []
    for _ in range(runs):
        elapsed, proc = timed(argv, env)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed: {proc.stderr.strip()}")
        times.append(elapsed)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "0"}
    results = []
    help_s = median_of(["--help"], env, args.runs)
    results.append(
        result("decentralml_help_median", round(help_s, 3), "s", "<= 0.5", help_s <= TARGET_S)
    )
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from decentralml.core.cli import main\n"
            "try:\n main(['--help'])\nexcept SystemExit:\n pass\n"
            "print('tensorflow' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    tf_loaded = probe.stdout.strip().endswith("True")
    results.append(
        result("tensorflow_imported_by_help", int(tf_loaded), "bool", "0", not tf_loaded)
    )
    with tempfile.TemporaryDirectory() as tmp, DevNode(base_path=Path(tmp) / "node") as node:
        node.start()
        # A fresh metadata-plan cache: the first run against a runtime decodes its metadata
        # with scalecodec and caches the plan; every later run reads the plan.
        list_env = {
            **env,
            "DECENTRALML_CHAIN_URL": node.ws_url,
            "DECENTRALML_METADATA_CACHE": str(Path(tmp) / "metadata"),
        }
        command = ["--json", "task", "list"]
        first_s, first = timed(command, list_env)
        if first.returncode != 0:
            raise SystemExit(f"task list failed: {first.stderr.strip()}")
        json.loads(first.stdout)
        results.append(
            result("decentralml_task_list_json_first_run", round(first_s, 3), "s", "none", True)
        )
        list_s = median_of(command, list_env, args.runs)
        results.append(
            result(
                "decentralml_task_list_json_median",
                round(list_s, 3),
                "s",
                "<= 0.5",
                list_s <= TARGET_S,
            )
        )
    write("cli_startup", f".venv/bin/python bench/cli_startup.py --runs {args.runs}", results)


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
