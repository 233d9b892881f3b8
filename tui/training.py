"""Local role processes (trainer, aggregator, verifier): start them, attach to them, follow them.

Every role run lives in a directory under the console's roles directory (default
``$DECENTRALML_STATE/roles``, the roles' own default state directory) and reports progress as
JSON lines (contract C) in ``<dir>/events.jsonl``. The console attaches to every such file it
finds, so processes started elsewhere (``decentralml train ... --events
$DECENTRALML_STATE/roles/<name>/events.jsonl``) show up as well as those it started itself.
No UI code here: the training panel calls this from a worker thread.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from decentralml.core.roles.events import EventFollower, ProgressEvent

log = logging.getLogger(__name__)

EVENTS_FILE = "events.jsonl"
ROLE_NAMES = {"train": "trainer", "aggregate": "aggregator", "verify": "verifier"}
KEEP_EVENTS = 400


def default_roles_dir() -> Path:
    return Path(os.environ.get("DECENTRALML_STATE") or ".state") / "roles"


@dataclass
class RoleRun:
    key: str
    path: Path
    follower: EventFollower
    process: subprocess.Popen[bytes] | None = None
    events: list[ProgressEvent] = field(default_factory=list)
    metrics: dict[int, tuple[float | None, float | None]] = field(default_factory=dict)
    """Per round: the latest (loss, accuracy) reported."""

    @property
    def last(self) -> ProgressEvent | None:
        return self.events[-1] if self.events else None

    @property
    def role(self) -> str:
        return self.last.role if self.last else self.key.split("-", 1)[0]

    @property
    def phase(self) -> str:
        return self.last.phase if self.last else "starting"

    @property
    def epsilon(self) -> float | None:
        """A DP-SGD trainer's privacy spent over its task, as it last reported it."""
        return next((e.epsilon for e in reversed(self.events) if e.epsilon is not None), None)

    @property
    def state(self) -> str:
        if self.process is None:
            return "attached"
        code = self.process.poll()
        return "running" if code is None else f"exited {code}"

    def feed(self, events: list[ProgressEvent]) -> None:
        for event in events:
            if event.round is not None and (event.loss is not None or event.accuracy is not None):
                loss, acc = self.metrics.get(event.round, (None, None))
                self.metrics[event.round] = (
                    event.loss if event.loss is not None else loss,
                    event.accuracy if event.accuracy is not None else acc,
                )
        self.events.extend(events)
        del self.events[:-KEEP_EVENTS]


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)[:80]


class RoleMonitor:
    """The runs under one roles directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.runs: dict[str, RoleRun] = {}

    def discover(self) -> None:
        if not self.root.is_dir():
            return
        for path in sorted(self.root.glob(f"*/{EVENTS_FILE}")):
            key = path.parent.name
            if key not in self.runs:
                self.runs[key] = RoleRun(key, path, EventFollower(path))

    def poll(self) -> list[str]:
        """Read what every run appended; the keys of runs that changed."""
        self.discover()
        changed = []
        for key, run in self.runs.items():
            events = run.follower.poll()
            if events:
                run.feed(events)
                changed.append(key)
            elif run.process is not None and run.process.poll() is not None:
                changed.append(key)
        return changed

    def command(
        self, verb: str, task: int, account: str, data: str, url: str, events: Path, state: Path
    ) -> list[str]:
        argv = [
            sys.executable,
            "-c",
            "import sys; from decentralml.core.cli import main; sys.exit(main())",
            "--url",
            url,
            verb,
            "--task",
            str(task),
            "--account",
            account,
            "--events",
            str(events),
            "--state-dir",
            str(state),
        ]
        if verb in ("train", "verify"):
            argv += ["--data", data]
        return argv

    def start(
        self,
        verb: str,
        task: int,
        account: str,
        data: str,
        url: str,
        *,
        password: str | None = None,
    ) -> RoleRun:
        if verb not in ROLE_NAMES:
            raise ValueError(f"unknown role {verb!r}")
        key = _safe(f"{ROLE_NAMES[verb]}-{task}-{account}")
        directory = self.root / key
        directory.mkdir(parents=True, exist_ok=True)
        events = directory / EVENTS_FILE
        env = dict(os.environ)
        if password is not None:
            env["DECENTRALML_PASSWORD"] = password
        with (directory / "console.log").open("ab") as out:
            process = subprocess.Popen(
                self.command(verb, task, account, data, url, events, directory),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        run = self.runs.get(key) or RoleRun(key, events, EventFollower(events))
        run.process = process
        self.runs[key] = run
        return run

    def stop(self, key: str) -> bool:
        run = self.runs.get(key)
        if run is None or run.process is None or run.process.poll() is not None:
            return False
        try:
            os.killpg(run.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return False
        return True

    def stop_all(self, timeout: float = 10.0) -> None:
        """Stop every process this console started (and wait for them)."""
        for key in list(self.runs):
            self.stop(key)
        for run in self.runs.values():
            if run.process is not None:
                try:
                    run.process.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    os.killpg(run.process.pid, signal.SIGKILL)
                    run.process.wait(timeout=5)
