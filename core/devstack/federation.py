"""A federation on one host, each participant as if on a host of its own.

``Federation(state_dir).up()`` starts the three ``--chain local`` validators (alice, bob,
charlie) and, for N trainers, an aggregator and a verifier, one private Kubo daemon each. With
isolation (root: one network namespace per participant, see ``netns.py``) a participant
reaches the others only over the bridge, at their own addresses; its Kubo API is on its own
127.0.0.1, so the others get its content over bitswap and nothing else. Without root it falls
back to separate ports on 127.0.0.1, logs that it is NOT isolated and sets ``isolated`` False.

Layout under ``<state_dir>/federation/``::

    federation.json       the plan: isolation, prefix, every participant (addresses, ports, URLs)
    <participant>/        chain/ + node.key (validators), ipfs/ (others), keystore/, state/
    logs/<participant>.<process>.log
    run/<participant>.<process>.pid   a pid record per process (``decentralml.core.proc``)

API for role processes (the trainers, aggregator and verifier of ``decentralml.core.roles``)::

    fed = Federation(state_dir, trainers=4)
    fed.up()
    p = fed.participants["trainer-1"]
    handle = fed.spawn(p, "role", [*find_cli(), "train", "--task", "1", ...])
    # runs in p's namespace with DECENTRALML_CHAIN_URL = p.rpc_url (its validator),
    # DECENTRALML_IPFS_API = p.kubo_api_url, DECENTRALML_KEYSTORE = p.keystore and
    # DECENTRALML_STATE = p.state_dir (``role_env``); its log is handle.log.
    handle.kill()                  # SIGKILL, as a crash would
    handle = fed.restart(handle)   # same command line, environment and log
    fed.down()                     # every process, then every namespace and link

``fed.processes`` holds a :class:`ProcessHandle` per running process (``"alice.node"``,
``"trainer-1.ipfs"``, ...). ``fed.ipfs(p, ...)`` runs the Kubo CLI against p's own API inside
p's namespace; ``fed.heads(v)`` reads a validator's best and finalized block over its RPC.
``federation_down(state_dir)`` cleans up from any process, also after a crash.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from ..proc import spawn, write_record
from .binaries import find_ipfs_binary, find_node_binary
from .errors import DevStackError
from .fedplan import (
    DEFAULT_TRAINERS,
    Participant,
    bootnode,
    kubo_config,
    node_argv,
    plan_federation,
)
from .fedproc import ProcessHandle, federation_down
from .linkemu import write_conditions
from .netns import (
    Netns,
    NetnsUnavailable,
    NetPlan,
    QdiscUnavailable,
    exec_prefix,
    unavailable_reason,
)

log = logging.getLogger(__name__)
LINKEMU = "decentralml.core.devstack.linkemu"
Isolate = Literal["auto", "require", "never"]
Progress = Callable[[str], None]
# Straight to the participants' addresses: never through a proxy from the environment.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Federation:
    """One federation in ``<state_dir>/federation``; see the module docstring."""

    def __init__(
        self,
        state_dir: Path,
        trainers: int = DEFAULT_TRAINERS,
        *,
        isolate: Isolate = "auto",
        net: NetPlan | None = None,
        progress: Progress | None = None,
        ready_timeout_s: float = 120.0,
    ) -> None:
        self.home = state_dir.absolute() / "federation"
        self.trainers = trainers
        self.isolate: Isolate = isolate
        self.net = net or NetPlan()
        self.progress: Progress = progress or (lambda text: log.info("%s", text))
        self.ready_timeout_s = ready_timeout_s
        self.isolated = False
        self.participants: dict[str, Participant] = {}
        self.processes: dict[str, ProcessHandle] = {}
        self.peer_ids: dict[str, str] = {}  # participant -> libp2p id (node or Kubo)
        self.conditions_by: str | None = None  # "netem" or "linkemu" while conditions apply

    # -- queries
    @property
    def validators(self) -> list[Participant]:
        return [p for p in self.participants.values() if p.is_validator]

    @property
    def storers(self) -> list[Participant]:
        """Participants with a Kubo daemon (everyone but the validators)."""
        return [p for p in self.participants.values() if not p.is_validator]

    def plan_json(self) -> dict[str, Any]:
        return {
            "isolated": self.isolated,
            "prefix": self.net.prefix,
            "subnet": self.net.subnet,
            "bridge": self.net.bridge if self.isolated else None,
            "participants": [p.to_json() for p in self.participants.values()],
        }

    # -- up
    def up(self) -> None:
        """Network, keys and repos, then every daemon; returns once the validators peer and
        every Kubo is connected to every other. Stops everything again if any step fails."""
        t0 = time.monotonic()
        self.isolated = self._network()
        plan = plan_federation(self.home, self.trainers, self.net, isolated=self.isolated)
        self.participants = {p.name: p for p in plan}
        try:
            if self.isolated:
                Netns(self.net).setup([self.net.slot(p.index, p.name) for p in plan])
            self.home.mkdir(parents=True, exist_ok=True)
            (self.home / "federation.json").write_text(json.dumps(self.plan_json(), indent=1))
            for p in plan:
                for d in (p.home, p.keystore, p.state_dir):
                    d.mkdir(parents=True, exist_ok=True)
            self._start_validators()
            self._start_kubos()
            self._wait_mesh()
        except BaseException:
            self.down()
            raise
        self.progress(f"federation up in {time.monotonic() - t0:.1f} s")

    def _network(self) -> bool:
        if self.isolate == "never":
            self._not_isolated("isolation was turned off")
            return False
        reason = unavailable_reason()
        if reason is None:
            try:
                Netns(self.net).setup([])
                return True
            except NetnsUnavailable as exc:
                reason = str(exc)
        if self.isolate == "require":
            raise NetnsUnavailable(
                f"cannot isolate the federation: {reason}. Run as root (network namespaces "
                "need CAP_NET_ADMIN), or allow the non-isolated fallback"
            )
        self._not_isolated(reason)
        return False

    def _not_isolated(self, reason: str) -> None:
        text = (
            f"the federation is NOT isolated ({reason}): every participant shares this "
            "host's 127.0.0.1 and can reach every other's Kubo API; run as root for one "
            "network namespace per participant"
        )
        log.warning("%s", text)
        self.progress(text)

    def _start_validators(self) -> None:
        binary = find_node_binary()
        if binary is None or not binary.exists():
            raise DevStackError(
                "node-decentralml not found: build it with scripts/build-node, or set DML_NODE_BIN"
            )
        for v in self.validators:
            if not v.node_key.exists():
                self._run([str(binary), "key", "generate-node-key", "--file", str(v.node_key)])
            out = self._run([str(binary), "key", "inspect-node-key", "--file", str(v.node_key)])
            self.peer_ids[v.name] = out.strip().splitlines()[-1].strip()
        for v in self.validators:
            boots = [bootnode(o, self.peer_ids[o.name]) for o in self.validators if o is not v]
            self.progress(f"starting validator {v.name} on {v.address} (RPC {v.rpc_http})")
            self.spawn(v, "node", node_argv(binary, v, boots))

    def _start_kubos(self) -> None:
        binary = find_ipfs_binary()
        if binary is None or not binary.exists():
            raise DevStackError("Kubo (ipfs) not found: run scripts/setup-kubo or set DML_IPFS_BIN")
        for p in self.storers:
            if not (p.ipfs_repo / "config").exists():
                p.ipfs_repo.mkdir(parents=True, exist_ok=True)
                self._run(
                    [str(binary), "init", "--profile", "test", "--empty-repo"],
                    env={"IPFS_PATH": str(p.ipfs_repo)},
                )
            cfg = json.loads((p.ipfs_repo / "config").read_text())
            self.peer_ids[p.name] = str(cfg["Identity"]["PeerID"])
        for p in self.storers:
            peers = {self.peer_ids[o.name]: o.swarm_multiaddr for o in self.storers if o is not p}
            path = p.ipfs_repo / "config"
            cfg = kubo_config(json.loads(path.read_text()), p, peers)
            path.with_suffix(".tmp").write_text(json.dumps(cfg, indent=2))
            path.with_suffix(".tmp").replace(path)
            (p.ipfs_repo / "api").unlink(missing_ok=True)
            self.progress(f"starting Kubo of {p.name} (swarm {p.swarm_multiaddr})")
            self.spawn(p, "ipfs", [str(binary), "daemon"], {"IPFS_PATH": str(p.ipfs_repo)})

    def _wait_mesh(self) -> None:
        deadline = time.monotonic() + self.ready_timeout_s
        want = len(self.storers) - 1
        pending = {p.name for p in self.participants.values()}
        while pending:
            for name in sorted(pending):
                p = self.participants[name]
                handle = self.processes[f"{name}.{'node' if p.is_validator else 'ipfs'}"]
                if not handle.alive():
                    raise DevStackError(
                        f"{handle.name} exited during start-up.\n--- last lines of "
                        f"{handle.log} ---\n{handle.log_tail()}"
                    )
                try:
                    if p.is_validator:
                        ready = int(self.rpc(p, "system_health")["peers"]) >= 2
                    else:
                        ready = (p.ipfs_repo / "api").exists() and self.swarm_peers(p) >= want
                except (OSError, ValueError, KeyError, DevStackError):
                    ready = False
                if ready:
                    pending.discard(name)
            if pending and time.monotonic() > deadline:
                raise DevStackError(
                    f"{', '.join(sorted(pending))} did not join the federation within "
                    f"{self.ready_timeout_s:.0f} s (validators need 2 peers, Kubos {want}); "
                    f"see the logs in {self.home / 'logs'}"
                )
            if pending:
                time.sleep(0.5)

    # -- processes
    def exec_argv(self, p: Participant, argv: Sequence[str]) -> list[str]:
        """``argv`` as run inside p's namespace (unchanged when not isolated)."""
        if p.netns is None:
            return list(argv)
        return [*exec_prefix(self.net.slot(p.index, p.name)), *argv]

    def role_env(self, p: Participant) -> dict[str, str]:
        """What a role process of ``p`` needs: its validator, its own Kubo, keystore, state."""
        env = {
            **os.environ,
            "DECENTRALML_CHAIN_URL": p.rpc_url,
            "DECENTRALML_KEYSTORE": str(p.keystore),
            "DECENTRALML_STATE": str(p.state_dir),
            "PYTHONUNBUFFERED": "1",
        }
        if not p.is_validator:
            env["DECENTRALML_IPFS_API"] = p.kubo_api_url
        env.pop("DECENTRALML_IPFS_AUTH", None)
        return env

    def spawn(
        self,
        p: Participant,
        process: str,
        argv: Sequence[str],
        env: Mapping[str, str] | None = None,
    ) -> ProcessHandle:
        """Start ``argv`` in p's namespace, detached (own process group), output to
        ``logs/<p>.<process>.log``, with ``role_env(p)`` updated by ``env``."""
        name = f"{p.name}.{process}"
        full_env = {**self.role_env(p), **(env or {})}
        log_path = self.home / "logs" / f"{name}.log"
        full = self.exec_argv(p, argv)
        child, record = spawn(name, full, log_path, env=full_env, cwd=p.home)
        write_record(self.home / "run" / f"{name}.pid", record)
        handle = ProcessHandle(name, p, list(argv), dict(env or {}), log_path, record, child)
        self.processes[name] = handle
        return handle

    def restart(self, handle: ProcessHandle) -> ProcessHandle:
        """Start the same command again (after a kill): same participant, environment, log."""
        if handle.alive():
            raise DevStackError(f"{handle.name} still runs (pid {handle.pid}): stop it first")
        process = handle.name.split(".", 1)[1]
        return self.spawn(handle.participant, process, handle.argv, handle.env)

    def exec(
        self,
        p: Participant,
        argv: Sequence[str],
        *,
        input: bytes | None = None,
        timeout: float = 60.0,
    ) -> subprocess.CompletedProcess[bytes]:
        """Run a short command in p's namespace and wait for it (output captured)."""
        return subprocess.run(
            self.exec_argv(p, argv),
            input=input,
            capture_output=True,
            timeout=timeout,
            env={**os.environ, **self.role_env(p)},
            check=False,
        )

    def ipfs(
        self, p: Participant, *args: str, input: bytes | None = None, timeout: float = 60
    ) -> bytes:
        """The Kubo CLI against p's own API, from inside p's namespace; raises on failure."""
        binary = find_ipfs_binary()
        if binary is None:
            raise DevStackError("Kubo (ipfs) not found: run scripts/setup-kubo")
        argv = [str(binary), "--api", p.kubo_api_multiaddr, *args]
        done = self.exec(p, argv, input=input, timeout=timeout)
        if done.returncode != 0:
            raise DevStackError(
                f"ipfs {' '.join(args)} on {p.name} failed: {done.stderr.decode().strip()}"
            )
        return done.stdout

    def swarm_peers(self, p: Participant) -> int:
        return len(self.ipfs(p, "swarm", "peers", timeout=10).split())

    def rpc(self, v: Participant, method: str, params: list[Any] | None = None) -> Any:
        """A JSON-RPC call to validator ``v`` over HTTP, from the host (via the bridge)."""
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []})
        req = urllib.request.Request(  # noqa: S310 - http:// to a participant's address
            v.rpc_http, data=body.encode(), headers={"Content-Type": "application/json"}
        )
        with _DIRECT.open(req, timeout=3) as resp:
            reply = json.loads(resp.read())
        if "error" in reply:
            raise DevStackError(f"{method} on {v.name}: {reply['error']}")
        return reply["result"]

    def heads(self, v: Participant) -> tuple[int, int]:
        """(best, finalized) block numbers of validator ``v``."""
        best = int(self.rpc(v, "chain_getHeader")["number"], 16)
        head = self.rpc(v, "chain_getFinalizedHead")
        return best, int(self.rpc(v, "chain_getHeader", [head])["number"], 16)

    # -- network conditions
    def _slots(self, names: Sequence[str] | None) -> list[Any]:
        if not self.isolated:
            raise DevStackError("network conditions need the isolated federation (run as root)")
        chosen = [self.participants[n] for n in names] if names else self.participants.values()
        return [self.net.slot(p.index, p.name) for p in chosen]

    def netem(self, delay_ms: int, loss_pct: float, names: Sequence[str] | None = None) -> None:
        """Delay and drop what each participant (default: all) sends, with ``tc netem``; on a
        kernel without it, for everyone, with the userspace emulator (``linkemu.py``)."""
        try:
            Netns(self.net).netem(self._slots(names), delay_ms, loss_pct)
            self.conditions_by = "netem"
        except QdiscUnavailable as exc:
            if names:
                raise QdiscUnavailable(f"{exc}; the userspace emulator applies to all") from None
            self._emulate(delay_ms, loss_pct)
            self.conditions_by = "linkemu"

    @property
    def _emulator_control(self) -> Path:
        return self.home / "run" / "linkemu.json"

    def _emulate(self, delay_ms: int, loss_pct: float) -> None:
        write_conditions(self._emulator_control, delay_ms, loss_pct)
        handle = self.processes.get("links.emulator")
        if handle is not None and handle.alive():
            return
        slots = self._slots(None)
        for slot in slots:
            self._run([*exec_prefix(slot), sys.executable, "-m", LINKEMU, "offloads-off",
                       slot.peer_veth])  # fmt: skip
        ready = Path(f"{self._emulator_control}.ready")
        ready.unlink(missing_ok=True)
        tap = f"{self.net.prefix}emu0"
        argv = [sys.executable, "-m", LINKEMU, "serve", str(self._emulator_control), tap]
        argv += [slot.host_veth for slot in slots]
        log_path = self.home / "logs" / "links.emulator.log"
        child, record = spawn("links.emulator", argv, log_path)
        write_record(self.home / "run" / "links.emulator.pid", record)
        host = self.participants[
            "alice"
        ]  # a record needs a participant: the emulator is the host's
        self.processes["links.emulator"] = ProcessHandle(
            "links.emulator", host, argv, {}, log_path, record, child
        )
        deadline = time.monotonic() + 20
        while not ready.exists():
            if child.poll() is not None or time.monotonic() > deadline:
                raise DevStackError(f"the link emulator did not start; see {log_path}")
            time.sleep(0.1)
        # The tap joins the bridge first, then each veth leaves it for the emulator.
        self._run(["ip", "link", "set", tap, "master", self.net.bridge])
        self._run(["ip", "link", "set", tap, "up"])
        for slot in slots:
            self._run(["ip", "link", "set", slot.host_veth, "promisc", "on"])
            self._run(["ip", "link", "set", slot.host_veth, "nomaster"])
        self.progress(f"links through the userspace emulator: {delay_ms} ms, {loss_pct:g} % loss")

    def shape(self, rate_kbit: int, names: Sequence[str] | None = None) -> None:
        """Cap what each participant sends at ``rate_kbit`` (``tc tbf``)."""
        Netns(self.net).shape(self._slots(names), rate_kbit)

    def clear_conditions(self, names: Sequence[str] | None = None) -> None:
        Netns(self.net).clear_netem(self._slots(names))
        handle = self.processes.pop("links.emulator", None)
        if handle is not None:
            for slot in self._slots(None):  # back on the bridge, then the emulator stops
                self._run(["ip", "link", "set", slot.host_veth, "master", self.net.bridge])
            handle.stop()
            (self.home / "run" / "links.emulator.pid").unlink(missing_ok=True)
        self.conditions_by = None

    # -- down
    def down(self) -> list[str]:
        """Stop every process (SIGTERM to its group, SIGKILL after 15 s), then remove every
        namespace and link of this federation's prefix. Returns what was stopped/removed."""
        return federation_down(self.home.parent, self.net.prefix)

    @staticmethod
    def _run(argv: list[str], env: Mapping[str, str] | None = None) -> str:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})}
        )
        if done.returncode != 0:
            raise DevStackError(f"`{' '.join(argv)}` failed: {done.stderr.strip()}")
        return done.stdout
