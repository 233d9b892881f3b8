"""Who is in a one-host federation, where each participant lives and how its daemons are run.

Pure functions and frozen records (no processes, no root): ``federation.py`` carries them out.
A federation is the three validators of ``--chain local`` (alice, bob, charlie), N trainers,
an aggregator and a verifier. Isolated (one network namespace each, see ``netns.py``) every
participant has an address of its own and uses the standard ports on it; without isolation
they all share 127.0.0.1 and get ports of their own from ``base_port`` up.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .errors import DevStackError
from .netns import NetPlan, Slot

VALIDATORS = ("alice", "bob", "charlie")
DEFAULT_TRAINERS = 4
MAX_TRAINERS = 32
# Isolated: every participant has its own address, so all use the usual ports.
RPC_PORT = 9944
P2P_PORT = 30333
SWARM_PORT = 4001
API_PORT = 5001
GATEWAY_PORT = 8080
DEFAULT_BASE_PORT = 42000  # not isolated: participant i uses base + 10 * i + 0..4


@dataclass(frozen=True)
class Participant:
    """One participant: a validator (a node, no Kubo) or a trainer, aggregator or verifier
    (a Kubo daemon, and whatever role process the caller spawns next to it)."""

    name: str
    kind: str  # "validator" | "trainer" | "aggregator" | "verifier"
    index: int
    address: str  # where the others reach it (its namespace's address, or 127.0.0.1)
    netns: str | None  # None when the federation is not isolated
    home: Path
    rpc_port: int
    p2p_port: int
    swarm_port: int
    api_port: int
    gateway_port: int
    validator: str  # whose RPC it uses (a validator uses its own)
    rpc_url: str  # ws://... of that validator

    @property
    def is_validator(self) -> bool:
        return self.kind == "validator"

    @property
    def rpc_http(self) -> str:
        """This validator's own RPC over HTTP (only meaningful for a validator)."""
        return f"http://{self.address}:{self.rpc_port}"

    @property
    def kubo_api_url(self) -> str:
        """Kubo's RPC API: 127.0.0.1, so only programs in this participant's namespace reach
        it (with isolation); the others reach its content through bitswap only."""
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def kubo_api_multiaddr(self) -> str:
        return f"/ip4/127.0.0.1/tcp/{self.api_port}"

    @property
    def swarm_multiaddr(self) -> str:
        return f"/ip4/{self.address}/tcp/{self.swarm_port}"

    @property
    def chain_dir(self) -> Path:
        return self.home / "chain"

    @property
    def node_key(self) -> Path:
        return self.home / "node.key"

    @property
    def ipfs_repo(self) -> Path:
        return self.home / "ipfs"

    @property
    def keystore(self) -> Path:
        return self.home / "keystore"

    @property
    def state_dir(self) -> Path:
        return self.home / "state"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["home"] = str(self.home)
        data["kubo_api_url"] = "" if self.is_validator else self.kubo_api_url
        return data


def participant_names(trainers: int) -> list[str]:
    if not 1 <= trainers <= MAX_TRAINERS:
        raise DevStackError(f"a federation has 1 to {MAX_TRAINERS} trainers, not {trainers}")
    trainer_names = [f"trainer-{i}" for i in range(1, trainers + 1)]
    return [*VALIDATORS, *trainer_names, "aggregator", "verifier"]


def kind_of(name: str) -> str:
    if name in VALIDATORS:
        return "validator"
    return "trainer" if name.startswith("trainer-") else name


def plan_federation(
    home: Path,
    trainers: int,
    net: NetPlan,
    *,
    isolated: bool,
    base_port: int = DEFAULT_BASE_PORT,
) -> list[Participant]:
    """Every participant, validators first. The others use the validators' RPC in turn
    (trainer-1 alice, trainer-2 bob, ...), so the load and the risk are spread."""
    names = participant_names(trainers)
    if not isolated and not 1024 <= base_port <= 65535 - 10 * len(names):
        raise DevStackError(f"base port {base_port} leaves no room for {len(names)} participants")
    slots = [net.slot(i, name) for i, name in enumerate(names)]
    rpc_of = {
        name: _address(slots[i], isolated) + f":{_ports(i, isolated, base_port)[0]}"
        for i, name in enumerate(VALIDATORS)
    }
    out: list[Participant] = []
    for slot in slots:
        kind = kind_of(slot.name)
        rpc, p2p, swarm, api, gateway = _ports(slot.index, isolated, base_port)
        if kind == "validator":
            validator = slot.name
        else:
            validator = VALIDATORS[(slot.index - len(VALIDATORS)) % len(VALIDATORS)]
        out.append(
            Participant(
                name=slot.name,
                kind=kind,
                index=slot.index,
                address=_address(slot, isolated),
                netns=slot.netns if isolated else None,
                home=home / slot.name,
                rpc_port=rpc,
                p2p_port=p2p,
                swarm_port=swarm,
                api_port=api,
                gateway_port=gateway,
                validator=validator,
                rpc_url=f"ws://{rpc_of[validator]}",
            )
        )
    return out


def _address(slot: Slot, isolated: bool) -> str:
    return slot.address if isolated else "127.0.0.1"


def _ports(index: int, isolated: bool, base_port: int) -> tuple[int, int, int, int, int]:
    if isolated:
        return RPC_PORT, P2P_PORT, SWARM_PORT, API_PORT, GATEWAY_PORT
    b = base_port + 10 * index
    return b, b + 1, b + 2, b + 3, b + 4


# ---- daemon command lines and configuration ------------------------------------------------------
def node_argv(binary: Path, p: Participant, bootnodes: list[str]) -> list[str]:
    """A ``--chain local`` validator: p2p on its own address, every other validator as a boot
    node (so any one of them may be down while this one starts), RPC on its own address."""
    argv = [
        str(binary),
        "--chain",
        "local",
        f"--{p.name}",
        "--validator",
        "--base-path",
        str(p.chain_dir),
        "--node-key-file",
        str(p.node_key),
        "--listen-addr",
        f"/ip4/{p.address}/tcp/{p.p2p_port}",
        "--rpc-port",
        str(p.rpc_port),
        "--rpc-cors",
        "all",
        # Peers on the bridge have private addresses, which a non-dev chain ignores otherwise.
        "--allow-private-ip",
        "--no-prometheus",
        "--no-telemetry",
        "--no-mdns",
        # Every finalized block's state is kept, so an audit (core/devstack/audit.py) can
        # compare balances at any two blocks of a rehearsal.
        "--state-pruning",
        "archive-canonical",
    ]
    if p.netns is not None:
        # Every interface *of its namespace*: its loopback and its bridge address, as a
        # validator on a host of its own would. A validator refuses --rpc-external, so this
        # is the "unsafe" spelling, restricted to the "safe" method set (all the core uses).
        argv += ["--unsafe-rpc-external", "--rpc-methods", "safe"]
    for boot in bootnodes:
        argv += ["--bootnodes", boot]
    return argv


def bootnode(p: Participant, peer_id: str) -> str:
    return f"/ip4/{p.address}/tcp/{p.p2p_port}/p2p/{peer_id}"


def kubo_config(cfg: dict[str, Any], p: Participant, peers: dict[str, str]) -> dict[str, Any]:
    """A participant's Kubo: swarm on its address only, API and gateway on 127.0.0.1, no public
    bootstrap, no mDNS, no routing, no relays or autoconf, and the other participants' Kubos
    (``peers``: peer id -> swarm multiaddr) as permanent peers. Bitswap needs no routing:
    a node asks the peers it is connected to, and Peering keeps those connections up."""
    out = dict(cfg)
    addresses = dict(out.get("Addresses") or {})
    addresses["API"] = p.kubo_api_multiaddr
    addresses["Gateway"] = f"/ip4/127.0.0.1/tcp/{p.gateway_port}"
    addresses["Swarm"] = [p.swarm_multiaddr]
    addresses["Announce"] = [p.swarm_multiaddr]
    addresses["NoAnnounce"] = []
    out["Addresses"] = addresses
    out["Bootstrap"] = []
    discovery = dict(out.get("Discovery") or {})
    discovery["MDNS"] = {**dict(discovery.get("MDNS") or {}), "Enabled": False}
    out["Discovery"] = discovery
    out["Routing"] = {**dict(out.get("Routing") or {}), "Type": "none"}
    out["AutoConf"] = {**dict(out.get("AutoConf") or {}), "Enabled": False}
    out["AutoTLS"] = {**dict(out.get("AutoTLS") or {}), "Enabled": False}
    out["AutoNAT"] = {**dict(out.get("AutoNAT") or {}), "ServiceMode": "disabled"}
    swarm = dict(out.get("Swarm") or {})
    swarm["DisableNatPortMap"] = True
    swarm["EnableHolePunching"] = False
    swarm["RelayClient"] = {**dict(swarm.get("RelayClient") or {}), "Enabled": False}
    swarm["RelayService"] = {**dict(swarm.get("RelayService") or {}), "Enabled": False}
    out["Swarm"] = swarm
    out["Peering"] = {
        "Peers": [{"ID": pid, "Addrs": [addr]} for pid, addr in sorted(peers.items())]
    }
    return out
