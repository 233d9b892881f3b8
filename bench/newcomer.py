"""Benchmark: the newcomer's run command, warm, to a finalized demo round visible in the console.

Target (issue 7): on a warm machine (node built, Kubo built, Python environment synced), at most
3 minutes from starting `decentralml dev run` to a finalized demo round shown in the console;
teardown leaves no process or port behind. Each run starts from an empty state directory (a new
chain, a new demo) on free ports, under tmux at 100x30, exactly as tests/e2e/test_newcomer.py.

    .venv/bin/python bench/newcomer.py [--runs 1]

Reported: time to the first screen showing the demo task past round 0 with a reward paid
(median and worst), the time from `q` to the run command's exit (the whole stack stopped), and
processes/ports left afterwards (must be 0).
"""

from __future__ import annotations

import argparse
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _results import result, write
from decentralml.core.proc import port_free, processes_under

from tests.e2e.test_newcomer import Tmux, finalized_round_shown, run_command_env, stop_stack

BIN = Path(sys.executable).parent
TARGET_S = 180.0


def one_run(timeout: float) -> tuple[float, float, int]:
    """(seconds to a finalized round on screen, seconds from q to exit, things left)."""
    with tempfile.TemporaryDirectory(prefix="dml-newcomer-") as tmp:
        env, state, ports = run_command_env(Path(tmp))
        tmux = Tmux("bench", env)
        try:
            t0 = time.monotonic()
            tmux.start([str(BIN / "decentralml"), "dev", "run"], cwd=Path.cwd())
            while finalized_round_shown(tmux.screen()) is None:
                if tmux.dead() is not None or time.monotonic() - t0 > timeout:
                    raise SystemExit(f"no finalized round on screen:\n{tmux.screen()}")
                time.sleep(1)
            visible = time.monotonic() - t0
            t1 = time.monotonic()
            tmux.keys("q")
            while tmux.dead() is None:
                if time.monotonic() - t1 > 180:
                    raise SystemExit(f"the console did not quit:\n{tmux.screen()}")
                time.sleep(0.5)
            teardown = time.monotonic() - t1
            left = len(processes_under(state)) + sum(not port_free(p) for p in ports.values())
            return visible, teardown, left
        finally:
            tmux.kill()
            stop_stack(env, state)  # whatever the run command left (killed, or the bench stopped)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()
    # Ctrl-C or a SIGTERM ends the run through its clean-up, not around it.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    runs = [one_run(args.timeout) for _ in range(args.runs)]
    visible = [v for v, _, _ in runs]
    teardown = [t for _, t, _ in runs]
    left = sum(x for _, _, x in runs)
    target = f"<= {TARGET_S:.0f}"
    results = [
        result(
            "finalized_round_visible_median",
            round(statistics.median(visible), 1),
            "s",
            target,
            statistics.median(visible) <= TARGET_S,
        ),
        result(
            "finalized_round_visible_worst",
            round(max(visible), 1),
            "s",
            target,
            max(visible) <= TARGET_S,
        ),
        result("quit_to_all_stopped_worst", round(max(teardown), 1), "s", None, None),
        result("processes_or_ports_left", left, "count", "0", left == 0),
    ]
    write("newcomer", f".venv/bin/python bench/newcomer.py --runs {args.runs}", results)


if __name__ == "__main__":
    main()
