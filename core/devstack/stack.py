"""The dev stack's processes: start, wait until ready, seed, start the roles, stop, report."""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import DecentralMLError
from ..proc import (
    PidRecord,
    describe_pid,
    listening_pids,
    port_free,
    port_listening,
    read_record,
    spawn,
    stop_record,
    write_record,
)
from .binaries import find_cli, find_ipfs_binary, find_node_binary
from .demo import DemoRecord, DemoSeeder, read_demo, write_json
from .errors import DevStackError, PortTaken
from .probes import PROBE_ERRORS, ipfs_version, kubo_config_patch, node_heads, node_rpc
from .settings import (
    Progress,
    StackPaths,
    StackSettings,
    component_names,
    default_state_dir,
    role_of,
)

log = logging.getLogger(__name__)


# ---- status ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ComponentStatus:
    name: str
    state: str  # "running" | "stopped" | "dead" (pid file left by a process that died)
    pid: int | None = None
    port: int | None = None
    url: str = ""
    log: str = ""
    last_event: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def last_event(path: Path) -> str:
    """The last progress event of an events file as one short line ("" if none)."""
    from ..roles.events import ProgressEvent

    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 8192))
            lines = handle.read().splitlines()
    except OSError:
        return ""
    for raw in reversed(lines):
        try:
            event = ProgressEvent.from_json(raw)
        except DecentralMLError:
            continue
        where = f"round {event.round} " if event.round is not None else ""
        text = f"{where}{event.phase}"
        if event.message:
            text += f": {event.message}"
        return text
    return ""


# ---- the stack -------------------------------------------------------------------------------
@dataclass(frozen=True)
class DownReport:
    stopped: list[str]
    left_processes: list[int]
    left_ports: list[int]

    @property
    def clean(self) -> bool:
        return not self.left_processes and not self.left_ports

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "clean": self.clean}


class DevStack:
    """One dev stack in one state directory."""

    def __init__(
        self,
        state_dir: Path | None = None,
        settings: StackSettings | None = None,
        *,
        progress: Progress | None = None,
        ready_timeout_s: float = 180.0,
        stop_timeout_s: float = 15.0,
    ) -> None:
        self.paths = StackPaths((state_dir or default_state_dir()).absolute())
        self.settings = settings or self.recorded_settings() or StackSettings()
        self.progress: Progress = progress or (lambda text: log.info("%s", text))
        self.ready_timeout_s = ready_timeout_s
        self.stop_timeout_s = stop_timeout_s

    # -- records
    def recorded_settings(self) -> StackSettings | None:
        try:
            data = json.loads(self.paths.stack_json.read_text())
            return StackSettings.from_json(data) if isinstance(data, dict) else None
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            log.warning("ignoring the unreadable %s", self.paths.stack_json)
            return None

    def records(self) -> dict[str, PidRecord]:
        out = {}
        if self.paths.run.is_dir():
            for pidfile in sorted(self.paths.run.glob("*.pid")):
                record = read_record(pidfile)
                if record is not None:
                    out[record.name] = record
        return out

    def running(self) -> dict[str, PidRecord]:
        return {name: r for name, r in self.records().items() if r.alive()}

    def names(self) -> list[str]:
        """Every component this stack knows about (configured ones, then any recorded)."""
        names = component_names(self.settings.trainers)
        return names + [n for n in self.records() if n not in names]

    # -- up
    def up(
        self, *, reset: bool = False, demo: bool = True, roles: bool = True
    ) -> list[ComponentStatus]:
        """Start (or resume) the stack and, with ``demo``, seed the demo federation and (with
        ``roles``) start its trainers, aggregator and verifier. Components already running are
        left alone. Returns the status of every component."""
        if reset:
            self.reset()
        self.paths.state.mkdir(parents=True, exist_ok=True)
        for d in (self.paths.logs, self.paths.run, self.paths.chain):
            d.mkdir(parents=True, exist_ok=True)
        running = self.running()
        self._clear_stale(running)
        self._check_ports(running)
        write_json(self.paths.stack_json, self.settings.to_json())
        started: list[str] = []
        try:
            if "ipfs" not in running:
                self._start_ipfs()
                started.append("ipfs")
            if "node" not in running:
                self._start_node()
                started.append("node")
            self._wait_ready()
            if demo:
                self._demo(roles=roles)
        except BaseException:
            # Leave nothing half-started behind: stop what this call started.
            for name in reversed(started):
                record = read_record(self.paths.pidfile(name))
                if record is not None:
                    stop_record(record, timeout=self.stop_timeout_s)
                    self.paths.pidfile(name).unlink(missing_ok=True)
            raise
        return self.status()

    def _clear_stale(self, running: dict[str, PidRecord]) -> None:
        for name, record in self.records().items():
            if name not in running and not record.members():
                log.info("removing the stale pid file of %s (pid %d)", name, record.pid)
                self.paths.pidfile(name).unlink(missing_ok=True)

    def _check_ports(self, running: dict[str, PidRecord]) -> None:
        s = self.settings
        wanted = {
            "ipfs": [
                (s.ipfs_api_port, "--ipfs-api-port"),
                (s.ipfs_gateway_port, "--ipfs-gateway-port"),
            ],
            "node": [(s.rpc_port, "--rpc-port"), (s.p2p_port, "--p2p-port")],
        }
        for name, ports in wanted.items():
            record = running.get(name)
            if record is not None:
                mine = set(record.ports)
                if any(p not in mine for p, _ in ports):
                    raise DevStackError(
                        f"the stack in {self.paths.state} already runs {name} on ports "
                        f"{sorted(mine)}: run `decentralml dev down` before changing ports"
                    )
                continue
            for port, flag in ports:
                if not port_free(port):
                    holders = [describe_pid(p) for p in listening_pids(port)]
                    who = f" by {', '.join(holders)}" if holders else ""
                    raise PortTaken(
                        f"port {port} is in use{who}, not by this dev stack ({self.paths.state}): "
                        f"stop that program, or choose another port with {flag} N"
                    )

    def _spawn(
        self,
        name: str,
        argv: list[str],
        *,
        env: dict[str, str] | None = None,
        ports: Sequence[int] = (),
        url: str = "",
    ) -> PidRecord:
        _child, record = spawn(
            name, argv, self.paths.log(name), env=env, ports=ports, url=url, cwd=self.paths.state
        )
        write_record(self.paths.pidfile(name), record)
        return record

    def _start_ipfs(self) -> None:
        binary = find_ipfs_binary()
        if binary is None or not binary.exists():
            raise DevStackError(
                "Kubo (ipfs) not found: run scripts/setup-kubo, or set DML_IPFS_BIN"
            )
        env = {**os.environ, "IPFS_PATH": str(self.paths.ipfs)}
        if not (self.paths.ipfs / "config").exists():
            self.progress(f"initialising the private IPFS repo in {self.paths.ipfs}")
            self.paths.ipfs.mkdir(parents=True, exist_ok=True)
            import subprocess

            done = subprocess.run(
                [str(binary), "init", "--profile", "test", "--empty-repo"],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            if done.returncode != 0:
                raise DevStackError(f"ipfs init failed in {self.paths.ipfs}: {done.stderr.strip()}")
        config_path = self.paths.ipfs / "config"
        cfg = json.loads(config_path.read_text())
        patched = kubo_config_patch(cfg, self.settings)
        if patched != cfg:
            tmp = config_path.with_suffix(".tmp")
            tmp.write_text(json.dumps(patched, indent=2))
            tmp.replace(config_path)
        s = self.settings
        self.progress(f"starting Kubo (IPFS) on {s.ipfs_api_url}, repo {self.paths.ipfs}")
        self._spawn(
            "ipfs",
            [str(binary), "daemon", "--offline"],
            env=env,
            ports=(s.ipfs_api_port, s.ipfs_gateway_port),
            url=s.ipfs_api_url,
        )

    def node_argv(self, binary: Path) -> list[str]:
        s = self.settings
        argv = [
            str(binary),
            "--dev",
            "--base-path",
            str(self.paths.chain),
            "--rpc-port",
            str(s.rpc_port),
            "--listen-addr",
            f"/ip4/127.0.0.1/tcp/{s.p2p_port}",
            "--rpc-cors",
            "all",
            "--no-prometheus",
            "--no-telemetry",
            "--no-mdns",
        ]
        if s.rpc_external:
            argv.append("--rpc-external")
        return argv

    def _start_node(self) -> None:
        binary = find_node_binary()
        if binary is None or not binary.exists():
            raise DevStackError(
                "node-decentralml not found: build it with scripts/build-node, put it on PATH, "
                "or set DML_NODE_BIN"
            )
        s = self.settings
        self.progress(
            f"starting node-decentralml --dev on {s.ws_url}, data in {self.paths.chain} "
            "(about 15 s)"
        )
        self._spawn("node", self.node_argv(binary), ports=(s.rpc_port, s.p2p_port), url=s.ws_url)

    def _wait_ready(self) -> None:
        s = self.settings
        probes: dict[str, Callable[[], object]] = {
            "ipfs": lambda: ipfs_version(s.ipfs_api_port),
            "node": lambda: node_rpc(s.rpc_port, "system_health"),
        }
        t0 = time.monotonic()
        pending = ["ipfs", "node"]
        while pending:
            for name in list(pending):
                record = read_record(self.paths.pidfile(name))
                try:
                    probes[name]()
                    pending.remove(name)
                    self.progress(f"{name} ready after {time.monotonic() - t0:.1f} s")
                    continue
                except PROBE_ERRORS:
                    pass
                if record is None or not record.alive():
                    raise DevStackError(
                        f"{name} exited before it answered.\n--- last lines of "
                        f"{self.paths.log(name)} ---\n{self.log_tail(name)}"
                    )
            if pending and time.monotonic() - t0 > self.ready_timeout_s:
                raise DevStackError(
                    f"{', '.join(pending)} did not answer within {self.ready_timeout_s:.0f} s; "
                    f"see `decentralml dev logs {pending[0]}`"
                )
            if pending:
                time.sleep(0.2)

    # -- demo
    def demo_record(self) -> DemoRecord | None:
        return read_demo(self.paths.demo_json)

    def _demo(self, *, roles: bool = True) -> None:
        from ..chain.client import ChainClient
        from ..config import IpfsConfig
        from ..storage.kubo import KuboStore

        s = self.settings
        with ChainClient(s.ws_url) as chain, KuboStore(IpfsConfig(api_url=s.ipfs_api_url)) as store:
            record = DemoSeeder(chain, store, self.paths, s.trainers, self.progress).seed()
        if roles:
            self._start_roles(record)

    def role_argv(self, name: str, record: DemoRecord) -> list[str]:
        role = role_of(name)
        if role is None or record.task_id is None:
            raise DevStackError(f"{name} is not a demo role")
        command = {"trainer": "train", "aggregator": "aggregate", "verifier": "verify"}[role]
        argv = [
            *find_cli(),
            command,
            "--task",
            str(record.task_id),
            "--account",
            record.accounts[name],
        ]
        if role in ("trainer", "verifier"):
            argv += ["--data", record.data[name]]
        argv += [
            "--events",
            str(self.paths.events(name, record.task_id)),
            "--state-dir",
            str(self.paths.role_dir(name, record.task_id)),
        ]
        return argv

    def role_env(self) -> dict[str, str]:
        s = self.settings
        env = {
            **os.environ,
            "DECENTRALML_CHAIN_URL": s.ws_url,
            "DECENTRALML_IPFS_API": s.ipfs_api_url,
            "DECENTRALML_STATE": str(self.paths.state),
            "DECENTRALML_KEYSTORE": str(self.paths.keystore),
            "PYTHONUNBUFFERED": "1",
        }
        env.pop("DECENTRALML_IPFS_AUTH", None)
        return env

    def _start_roles(self, record: DemoRecord) -> None:
        running = self.running()
        names = [n for n in component_names(self.settings.trainers) if role_of(n)]
        self.paths.roles.mkdir(parents=True, exist_ok=True)
        env = self.role_env()
        for name in names:
            if name in running:
                continue
            self._spawn(name, self.role_argv(name, record), env=env)
        started = [n for n in names if n not in running]
        self.progress(
            f"started {', '.join(started) or 'no new roles'} on task {record.task_id}"
            + (
                "; the first round is finalized about 1-2 minutes from now (each trainer loads "
                "TensorFlow first)"
                if started
                else ""
            )
        )

    def finalized_rounds(self) -> list[int]:
        """Rounds of the demo task that its roles reported finalized (from the events files)."""
        from ..roles.events import ProgressEvent

        record = self.demo_record()
        if record is None or record.task_id is None:
            return []
        task = record.task_id
        rounds: set[int] = set()
        for name in (
            "aggregator",
            "verifier",
            *[n for n in self.names() if n.startswith("trainer-")],
        ):
            try:
                lines = self.paths.events(name, task).read_bytes().splitlines()
            except OSError:
                continue
            for raw in lines:
                try:
                    event = ProgressEvent.from_json(raw)
                except DecentralMLError:
                    continue
                if event.phase == "finalized" and event.round is not None and event.task == task:
                    rounds.add(event.round)
        return sorted(rounds)

    # -- down
    def down(self) -> DownReport:
        """Stop every component this stack started, roles first; then check that no process of
        theirs and no port of the stack is left."""
        records = self.records()
        order = [n for n in reversed(self.names()) if n in records]
        stopped: list[str] = []
        left: list[int] = []
        # Roles stop together (each gets SIGTERM at once), then Kubo and the node.
        roles = [records[n] for n in order if role_of(n)]
        daemons = [records[n] for n in order if not role_of(n)]
        for group in (roles, daemons):
            results: dict[str, list[int]] = {}

            def stop(r: PidRecord, results: dict[str, list[int]] = results) -> None:
                results[r.name] = stop_record(r, timeout=self.stop_timeout_s)

            alive = {r.name for r in group if r.alive() or r.members()}
            threads = [threading.Thread(target=stop, args=(r,)) for r in group]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            for r in group:
                remaining = results.get(r.name, [])
                left += remaining
                if not remaining:
                    self.paths.pidfile(r.name).unlink(missing_ok=True)
                if r.name in alive:
                    stopped.append(r.name)
        ports = sorted({p for r in records.values() for p in r.ports})
        left_ports = [p for p in ports if port_listening(p)]
        return DownReport(stopped=stopped, left_processes=sorted(left), left_ports=left_ports)

    def reset(self) -> None:
        """Stop the stack, then delete its chain, IPFS repo, demo data, roles' state and logs."""
        report = self.down()
        if not report.clean:
            raise DevStackError(
                f"cannot reset: processes {report.left_processes} / ports {report.left_ports} "
                "are still in use after stopping the stack"
            )
        self.progress(f"resetting {self.paths.state} (chain, IPFS repo, demo, roles, logs)")
        for d in (
            self.paths.chain,
            self.paths.ipfs,
            self.paths.demo,
            self.paths.roles,
            self.paths.logs,
        ):
            shutil.rmtree(d, ignore_errors=True)
        self.paths.demo_json.unlink(missing_ok=True)
        self.paths.stack_json.unlink(missing_ok=True)

    # -- status and logs
    def status(self) -> list[ComponentStatus]:
        records = self.records()
        demo = self.demo_record()
        out = []
        for name in self.names():
            record = records.get(name)
            if (
                name in ("node", "ipfs")
                or record is not None
                or (demo is not None and demo.task_id is not None and role_of(name) is not None)
            ):
                out.append(self._one_status(name, record))
        return out

    def _one_status(self, name: str, record: PidRecord | None) -> ComponentStatus:
        s = self.settings
        log_file = str(self.paths.log(name))
        if record is None:
            port = {"node": s.rpc_port, "ipfs": s.ipfs_api_port}.get(name)
            url = {"node": s.ws_url, "ipfs": s.ipfs_api_url}.get(name, "")
            event = self._role_event(name)
            return ComponentStatus(
                name, "stopped", port=port, url=url, log=log_file, last_event=event
            )
        alive = record.alive()
        port = record.ports[0] if record.ports else None
        event = ""
        if role_of(name):
            event = self._role_event(name)
        elif alive and name == "node" and port is not None:
            try:
                best, finalized = node_heads(port)
                event = f"block #{best}, finalized #{finalized}"
            except PROBE_ERRORS:
                event = "not answering"
        elif alive and name == "ipfs" and port is not None:
            try:
                event = f"Kubo {ipfs_version(port)}"
            except PROBE_ERRORS:
                event = "not answering"
        return ComponentStatus(
            name,
            "running" if alive else "dead",
            pid=record.pid,
            port=port,
            url=record.url,
            log=record.log or log_file,
            last_event=event,
        )

    def _role_event(self, name: str) -> str:
        record = self.demo_record()
        if not role_of(name) or record is None:
            return ""
        return last_event(self.paths.events(name, record.task_id))

    def log_tail(self, name: str, lines: int = 40) -> str:
        try:
            text = self.paths.log(name).read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def follow(self, names: Sequence[str], lines: int = 20, poll_s: float = 0.5) -> Iterator[str]:
        """Yield the last ``lines`` lines of each log, then new lines as they are written
        (prefixed with the component's name when there are several). Runs until closed."""
        prefix = len(names) > 1
        handles: dict[str, Any] = {}
        try:
            # Open every log first and read its tail from the handle, so nothing written in
            # between is lost.
            for name in names:
                try:
                    handles[name] = self.paths.log(name).open("r", errors="replace")
                except OSError:
                    continue
            for name, handle in handles.items():
                for line in handle.read().splitlines()[-lines:]:
                    yield f"[{name}] {line}" if prefix else line
            while True:
                quiet = True
                for name, handle in handles.items():
                    for line in handle.readlines():
                        quiet = False
                        text = line.rstrip("\n")
                        yield f"[{name}] {text}" if prefix else text
                if quiet:
                    time.sleep(poll_s)
        finally:
            for handle in handles.values():
                handle.close()

    # -- foreground
    def wait(self, stop: threading.Event, poll_s: float = 1.0) -> str:
        """Block until ``stop`` is set or the node or Kubo dies; returns the reason."""
        while not stop.wait(poll_s):
            for name in ("node", "ipfs"):
                record = read_record(self.paths.pidfile(name))
                if record is None or not record.alive():
                    return f"{name} stopped (see `decentralml dev logs {name}`)"
        return "stop requested"
