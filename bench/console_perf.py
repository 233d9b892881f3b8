"""Console performance on a chain with 10,000 tasks and 1,000 proposals (issue 6).

Starts its own node-decentralml --dev (seeding it with bench/seed_chain.py unless
``--base-path`` holds an already seeded chain), then measures:

- launch to first paint: ``decentralml --url URL console`` started in a pseudo-terminal,
  wall-clock until the terminal receives the first full frame (the footer's key list),
  median of 5 (target <= 1 s);
- keypress to render while scrolling (down, page down) and filtering (typing and deleting a
  query) the loaded 10,000-row task table: from the key event to the end of the next
  compositor refresh, in-process with the real ChainBackend (target median <= 50 ms);
- console RSS after every panel loaded (tasks, proposals, balances, models), no training
  (target <= 250 MB); plus the time the 10,000 tasks took to load (information).

    nice -n 10 .venv/bin/python bench/console_perf.py [--base-path DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pty
import select
import signal
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

from _results import ROOT, result, write
from seed_chain import chain_node, seed


def first_paint(url: str, runs: int = 5) -> list[float]:
    script = ROOT / ".venv" / "bin" / "decentralml"
    out = []
    for _ in range(runs):
        master, slave = pty.openpty()
        env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40"}
        started = time.perf_counter()
        proc = subprocess.Popen(
            [str(script), "--url", url, "console"],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
        )
        os.close(slave)
        seen = b""
        painted = None
        deadline = started + 30
        while time.perf_counter() < deadline:
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    seen += os.read(master, 65536)
                except OSError:
                    break
                if b"palette" in seen:  # the footer: the whole first frame is out
                    painted = time.perf_counter() - started
                    break
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        os.close(master)
        if painted is None:
            raise SystemExit(f"the console did not paint within 30 s: {seen[-400:]!r}")
        out.append(painted)
    return out


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def interactive(url: str) -> dict[str, Any]:
    from decentralml.core.config import load_config
    from decentralml.tui.app import ConsoleApp
    from decentralml.tui.chain_backend import ChainBackend
    from decentralml.tui.screens.tasks import TasksScreen
    from textual.screen import Screen

    renders: list[float] = []
    original = Screen._compositor_refresh

    def timed(self: Screen[Any]) -> None:
        original(self)
        renders.append(time.perf_counter())

    Screen._compositor_refresh = timed  # type: ignore[method-assign]
    config = load_config(None, overrides={"chain": {"url": url}, "ipfs": {}, "keys": {}})
    app = ConsoleApp(ChainBackend(config))
    out: dict[str, Any] = {}

    async def wait(condition: Any, what: str, timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise SystemExit(f"timed out waiting for {what}")
            await pilot.pause(0.05)

    async def press(key: str) -> float:
        t0 = time.perf_counter()
        mark = len(renders)
        await pilot.press(key)
        while len(renders) == mark or renders[-1] < t0:
            await pilot.pause(0.001)
        first = next(t for t in renders[mark:] if t >= t0)
        return (first - t0) * 1000

    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, TasksScreen)
        t0 = time.perf_counter()
        await wait(lambda: len(screen.all) >= 10_000, "10,000 tasks")
        out["load_s"] = time.perf_counter() - t0
        print(f"{len(screen.all)} tasks loaded in {out['load_s']:.1f} s", flush=True)
        await pilot.pause(0.5)
        scroll = [await press("down") for _ in range(60)]
        scroll += [await press("pagedown") for _ in range(20)]
        scroll += [await press("up") for _ in range(20)]
        print(f"scrolled: median {statistics.median(scroll):.1f} ms", flush=True)
        await press("slash")
        filtering = []
        for query in ("running", "model 2", "dcc"):
            for ch in query:
                filtering.append(await press("space" if ch == " " else ch))
            for _ in query:
                filtering.append(await press("backspace"))
        out["rows_after_filter"] = len(screen.query_one("#tasks").rows)  # type: ignore[attr-defined]
        print(f"filtered: median {statistics.median(filtering):.1f} ms", flush=True)
        await pilot.press("escape")  # leave the filter field (digits would go into it)
        out["panels"] = []
        for key, attr in (("2", "loaded"), ("3", "view"), ("5", "loaded")):
            await pilot.press(key)
            try:
                await wait(lambda attr=attr: bool(getattr(app.screen, attr, None)), f"panel {key}")
                out["panels"].append(key)
            except SystemExit as exc:
                notes = [n.message for n in app._notifications]
                print(f"{exc}; notifications: {notes}", flush=True)
            print(f"panel {key} done", flush=True)
        stack = app._screen_stacks.get("proposals") or [None]
        out["proposals"] = len(getattr(stack[0], "all", {}))
        await pilot.pause(1.0)
        out["rss_mb"] = rss_mb()
    out["scroll_ms"] = scroll
    out["filter_ms"] = filtering
    return out


def p95(samples: list[float]) -> float:
    return round(sorted(samples)[int(len(samples) * 0.95)], 1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-path", type=Path, help="a chain seeded by bench/seed_chain.py")
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--proposals", type=int, default=1_000)
    args = parser.parse_args()
    with chain_node(args.base_path) as node:
        seed(node.ws_url, args.tasks, args.proposals)  # a no-op on a seeded chain
        paints = first_paint(node.ws_url)
        print(f"first paint: {paints}", flush=True)
        data = asyncio.run(interactive(node.ws_url))
    scroll = statistics.median(data["scroll_ms"])
    filt = statistics.median(data["filter_ms"])
    paint = statistics.median(paints)
    write(
        "console_perf",
        "nice -n 10 .venv/bin/python bench/console_perf.py",
        [
            result("first_paint_median_s", round(paint, 3), "s", "<= 1", paint <= 1.0),
            result("first_paint_worst_s", round(max(paints), 3), "s", None, None),
            result(
                "scroll_keypress_to_render_median_ms", round(scroll, 1), "ms", "<= 50", scroll <= 50
            ),
            result(
                "scroll_keypress_to_render_p95_ms",
                p95(data["scroll_ms"]),
                "ms",
                None,
                None,
            ),
            result(
                "filter_keypress_to_render_median_ms", round(filt, 1), "ms", "<= 50", filt <= 50
            ),
            result(
                "filter_keypress_to_render_p95_ms",
                p95(data["filter_ms"]),
                "ms",
                None,
                None,
            ),
            result("rss_mb", round(data["rss_mb"], 1), "MB", "<= 250", data["rss_mb"] <= 250),
            result("tasks_load_s", round(data["load_s"], 2), "s", None, None),
            result("tasks_on_chain", args.tasks, "count", ">= 10000", args.tasks >= 10_000),
            result("proposals_loaded", data["proposals"], "count", None, None),
        ],
    )


if __name__ == "__main__":
    main()
