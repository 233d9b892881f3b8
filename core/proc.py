"""Process and port utilities for long-running children (the dev stack, tests, benchmarks).

Linux only: liveness, process groups and listening sockets are read from ``/proc``.

A child is started in its own session (so it leads its own process group) with its output in a
log file, and remembered by a :class:`PidRecord` written to a pid file. The record keeps the
process's start time (``/proc/<pid>/stat`` field 22) next to the pid, so a stale pid file whose
pid the kernel has since given to an unrelated program is recognised as stale and that program
is never signalled.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .errors import DecentralMLError

log = logging.getLogger(__name__)

PROC = Path("/proc")


class ProcessError(DecentralMLError):
    """A child process could not be started or stopped."""


# ---- /proc readers ---------------------------------------------------------------------------
@dataclass(frozen=True)
class ProcStat:
    """The fields of ``/proc/<pid>/stat`` we use."""

    pid: int
    state: str
    ppid: int
    pgrp: int
    session: int
    start_ticks: int


def parse_stat(text: str) -> ProcStat:
    """Parse a ``/proc/<pid>/stat`` line. The command name may hold spaces and parentheses,
    so the fields are counted after the last ``)``."""
    head, _, rest = text.rpartition(")")
    pid = int(head.split("(", 1)[0])
    fields = rest.split()
    # fields[0] is field 3 (state); field N is fields[N - 3].
    return ProcStat(
        pid=pid,
        state=fields[0],
        ppid=int(fields[1]),
        pgrp=int(fields[2]),
        session=int(fields[3]),
        start_ticks=int(fields[19]),
    )


def proc_stat(pid: int, proc: Path = PROC) -> ProcStat | None:
    """The process's stat, or None if there is no such process."""
    try:
        return parse_stat((proc / str(pid) / "stat").read_text())
    except (FileNotFoundError, ProcessLookupError, PermissionError, ValueError, IndexError):
        return None


def all_pids(proc: Path = PROC) -> list[int]:
    return [int(p.name) for p in proc.iterdir() if p.name.isdigit()]


def group_members(pgrp: int, proc: Path = PROC) -> list[int]:
    """Live (non-zombie) processes of a process group."""
    out = []
    for pid in all_pids(proc):
        stat = proc_stat(pid, proc)
        if stat is not None and stat.pgrp == pgrp and stat.state != "Z":
            out.append(pid)
    return sorted(out)


# ---- pid records -------------------------------------------------------------------------------
@dataclass(frozen=True)
class PidRecord:
    """What we know about a child we started: enough to find it again and to stop only it."""

    name: str
    pid: int
    start_ticks: int
    argv: tuple[str, ...]
    log: str
    ports: tuple[int, ...] = ()
    url: str = ""
    started_at: float = field(default_factory=time.time)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> PidRecord:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("a pid record is a JSON object")
        return cls(
            name=str(data["name"]),
            pid=int(data["pid"]),
            start_ticks=int(data["start_ticks"]),
            argv=tuple(str(a) for a in data.get("argv", ())),
            log=str(data.get("log", "")),
            ports=tuple(int(p) for p in data.get("ports", ())),
            url=str(data.get("url", "")),
            started_at=float(data.get("started_at", 0.0)),
        )

    def alive(self, proc: Path = PROC) -> bool:
        """True while the very process we started runs (same pid *and* start time, no zombie)."""
        stat = proc_stat(self.pid, proc)
        return stat is not None and stat.start_ticks == self.start_ticks and stat.state != "Z"

    def members(self, proc: Path = PROC) -> list[int]:
        """Live processes left in the record's process group (the leader's pid is the group id).

        Linux does not hand out a pid that is still in use as a process-group id, so while any
        member of our group lives, the number cannot belong to another process; if a process
        with the leader's pid but another start time exists, our group is gone and the number
        (and any group of that id) is someone else's."""
        leader = proc_stat(self.pid, proc)
        if leader is not None and leader.start_ticks != self.start_ticks:
            return []
        return [
            pid
            for pid in group_members(self.pid, proc)
            if (stat := proc_stat(pid, proc)) is not None and stat.start_ticks >= self.start_ticks
        ]


def read_record(path: Path) -> PidRecord | None:
    """The record in a pid file; None when the file is missing or unreadable (treated as stale)."""
    try:
        return PidRecord.from_json(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        log.warning("ignoring the unreadable pid file %s", path)
        return None


def write_record(path: Path, record: PidRecord) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(record.to_json())
    tmp.replace(path)


# ---- spawning and stopping -----------------------------------------------------------------------
def spawn(
    name: str,
    argv: Sequence[str],
    log_path: Path,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    ports: Sequence[int] = (),
    url: str = "",
) -> tuple[subprocess.Popen[bytes], PidRecord]:
    """Start ``argv`` detached: its own session and process group, stdin from /dev/null,
    stdout and stderr appended to ``log_path``. Returns the handle and its record."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with log_path.open("ab") as out:
            out.write(f"\n==> {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(argv)}\n".encode())
            out.flush()
            child = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                start_new_session=True,
            )
    except OSError as exc:
        raise ProcessError(f"cannot start {name} ({argv[0]}): {exc.strerror or exc}") from None
    stat = proc_stat(child.pid)
    record = PidRecord(
        name=name,
        pid=child.pid,
        start_ticks=stat.start_ticks if stat is not None else 0,
        argv=tuple(argv),
        log=str(log_path),
        ports=tuple(ports),
        url=url,
    )
    return child, record


def _signal_group(pgrp: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgrp, sig)
    except ProcessLookupError:
        pass
    except PermissionError:
        log.warning("not allowed to signal process group %d", pgrp)


def stop_record(record: PidRecord, *, timeout: float = 15.0, proc: Path = PROC) -> list[int]:
    """Stop a recorded child and everything left in its process group: SIGTERM, then SIGKILL
    after ``timeout`` seconds. Does nothing to a pid that is no longer ours. Returns the pids
    still alive afterwards (normally none)."""
    if not record.alive(proc) and not record.members(proc):
        return []
    log.info("stopping %s (pid %d)", record.name, record.pid)
    _signal_group(record.pid, signal.SIGTERM)
    if wait_gone(record, timeout, proc):
        return []
    log.warning("%s did not stop within %.0f s: SIGKILL", record.name, timeout)
    _signal_group(record.pid, signal.SIGKILL)
    wait_gone(record, 5.0, proc)
    return record.members(proc)


def wait_gone(record: PidRecord, timeout: float, proc: Path = PROC) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        _reap(record.pid)
        if not record.alive(proc) and not record.members(proc):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


def _reap(pid: int) -> None:
    """Collect the exit status if the process is our own child (else it stays a zombie)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


# ---- ports --------------------------------------------------------------------------------------
def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """True if nothing listens on ``host:port`` (binding succeeds; TIME_WAIT does not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def port_listening(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    """True if something accepts connections on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        return s.connect_ex((host, port)) == 0


def free_port() -> int:
    """A port the kernel just had free on 127.0.0.1 (for tests and benchmarks)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def parse_proc_net_tcp(text: str) -> dict[int, list[int]]:
    """``/proc/net/tcp{,6}`` -> {port: [socket inodes]} of the sockets in LISTEN state."""
    out: dict[int, list[int]] = {}
    for line in text.splitlines()[1:]:
        parts = line.split()
        if len(parts) < 10 or parts[3] != "0A":  # 0A = TCP_LISTEN
            continue
        port = int(parts[1].rsplit(":", 1)[1], 16)
        out.setdefault(port, []).append(int(parts[9]))
    return out


def listening_pids(port: int, proc: Path = PROC) -> list[int]:
    """Pids holding a listening TCP socket on ``port`` (best effort: needs to read their fds)."""
    inodes: set[int] = set()
    for name in ("tcp", "tcp6"):
        try:
            table = parse_proc_net_tcp((proc / "net" / name).read_text())
        except OSError:
            continue
        inodes.update(table.get(port, []))
    if not inodes:
        return []
    wanted = {f"socket:[{i}]" for i in inodes}
    pids = []
    for pid in all_pids(proc):
        try:
            fds = list((proc / str(pid) / "fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(fd) in wanted:
                    pids.append(pid)
                    break
            except OSError:
                continue
    return sorted(pids)


def describe_pid(pid: int, proc: Path = PROC) -> str:
    """``pid 123 (ipfs daemon --offline)`` for messages."""
    try:
        raw = (proc / str(pid) / "cmdline").read_bytes()
        cmd = " ".join(a.decode(errors="replace") for a in raw.split(b"\0") if a)
    except OSError:
        cmd = ""
    return f"pid {pid} ({cmd[:80]})" if cmd else f"pid {pid}"


def processes_under(directory: Path, proc: Path = PROC) -> list[int]:
    """Live processes whose working directory is ``directory`` or below it. The dev stack
    starts every child in its state directory, so this finds anything it left behind."""
    root = str(directory.resolve())
    out = []
    for pid in all_pids(proc):
        try:
            cwd = os.readlink(proc / str(pid) / "cwd")
        except OSError:
            continue
        stat = proc_stat(pid, proc)
        if (cwd == root or cwd.startswith(root + "/")) and stat is not None and stat.state != "Z":
            out.append(pid)
    return sorted(out)
