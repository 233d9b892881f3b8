"""Benchmark: start-up time of the `decentralml` command.

Target (issue 4): `decentralml --help` and `decentralml task list --json` each finish in at
most 0.5 s, TensorFlow not imported. `task list` runs against a real node-decentralml --dev
started here on free ports (connect, metadata, one storage query, JSON out: the whole
command, wall-clock, as a user would time it). If the running runtime has no
`DecentralMl.Tasks` storage yet, `model list --json` (the closest list command) is timed.

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
    with tempfile.TemporaryDirectory() as tmp, DevNode(base_path=Path(tmp)) as node:
        node.start()
        list_env = {**env, "DECENTRALML_CHAIN_URL": node.ws_url}
        _, probe_list = timed(["--json", "task", "list"], list_env)
        command = ["--json", "task", "list"]
        if probe_list.returncode != 0:
            command = ["--json", "model", "list"]
        json.loads(timed(command, list_env)[1].stdout)  # warm caches once, check the output
        list_s = median_of(command, list_env, args.runs)
        name = "_".join(command[1:3])
        results.append(
            result(
                f"decentralml_{name}_json_median",
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
