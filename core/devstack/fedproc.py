"""Processes of a one-host federation: a handle per process, and the stop-everything path.

Kept apart from the launcher (``federation.py``) so ``decentralml dev down --federation`` can
clean up from any shell without building a federation first.
"""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from ..proc import PidRecord, read_record, stop_record
from .fedplan import Participant
from .netns import teardown


@dataclass
class ProcessHandle:
    """One process of a participant: enough to signal it, read its log and start it again."""

    name: str  # "<participant>.<process>"
    participant: Participant
    argv: list[str]
    env: dict[str, str]
    log: Path
    record: PidRecord
    child: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        return self.record.pid

    def alive(self) -> bool:
        if self.child is not None and self.child.poll() is not None:
            return False
        return self.record.alive()

    def kill(self, sig: signal.Signals = signal.SIGKILL) -> None:
        """Signal the process (SIGKILL by default: a crash, no chance to clean up)."""
        try:
            os.kill(self.record.pid, sig)
        except ProcessLookupError:
            return
        if sig == signal.SIGKILL and self.child is not None:
            self.child.wait(timeout=10)

    def stop(self, timeout: float = 15.0) -> list[int]:
        left = stop_record(self.record, timeout=timeout)
        if self.child is not None:
            self.child.poll()
        return left

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def federation_down(state_dir: Path, prefix: str = "dml") -> list[str]:
    """Stop what ``<state_dir>/federation/run`` records, then tear down the network of
    ``prefix`` by name (whatever still runs in those namespaces is killed): safe to call
    after a crash, twice, or when nothing runs."""
    run = state_dir.absolute() / "federation" / "run"
    done: list[str] = []
    records = [r for f in sorted(run.glob("*.pid")) if (r := read_record(f)) is not None]
    # Roles first, then Kubo, then the validators.
    records.sort(key=lambda r: {"ipfs": 1, "node": 2}.get(r.name.rsplit(".", 1)[-1], 0))
    for record in records:
        if record.alive() or record.members():
            stop_record(record, timeout=15.0)
            done.append(record.name)
        (run / f"{record.name}.pid").unlink(missing_ok=True)
    return done + teardown(prefix)
