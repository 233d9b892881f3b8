"""Ports, flags and paths of one dev stack, and who plays which part in the demo."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from .errors import DevStackError

Progress = Callable[[str], None]

DEFAULT_RPC_PORT = 9944
DEFAULT_P2P_PORT = 30333
DEFAULT_IPFS_API_PORT = 5001
DEFAULT_IPFS_GATEWAY_PORT = 8080
PORT_ENV = {
    "rpc_port": "DML_RPC_PORT",
    "p2p_port": "DML_P2P_PORT",
    "ipfs_api_port": "DML_IPFS_API_PORT",
    "ipfs_gateway_port": "DML_IPFS_GATEWAY_PORT",
}

# Demo federation: who does what (dev accounts endowed by the dev genesis).
SPONSOR = "//Alice"
TRAINER_ACCOUNTS = ("//Bob", "//Charlie", "//Dave")
TRAINER_JURISDICTIONS = ("DE", "FR", "NL")
AGGREGATOR = "//Eve"
VERIFIER = "//Ferdie"
DEMO_ASSET_ID = 1
DEMO_DATASET = "digits"
DEMO_SEED = 7
DEMO_ALPHA = 0.5
DEMO_MODEL_NAME = "demo-digits"
DEMO_LICENCE = "Apache-2.0"
DEMO_ROUNDS = 20
# Deadlines are in blocks. The dev node seals a block for each burst of transactions and an
# empty one every 2 s, so a round's few transactions shorten 45 blocks (90 s idle) only a
# little; the aggregate comes as soon as every trainer submitted, so short rounds do not need
# a short deadline. The challenge window passes with the next idle blocks (at most 6 s).
DEMO_ROUND_LENGTH = 45
DEMO_CHALLENGE_WINDOW = 3
LIVE_TASK = ("Open", "Running")
USABLE_MODEL = ("Active", "Flagged")


# ---- settings and paths --------------------------------------------------------------------------
def default_state_dir() -> Path:
    """``$DECENTRALML_STATE``, else ``./.state``."""
    return Path(os.environ.get("DECENTRALML_STATE") or ".state").expanduser().absolute()


@dataclass(frozen=True)
class StackSettings:
    """Ports and flags of one dev stack. ``run/stack.json`` keeps the last ones used."""

    rpc_port: int = DEFAULT_RPC_PORT
    p2p_port: int = DEFAULT_P2P_PORT
    ipfs_api_port: int = DEFAULT_IPFS_API_PORT
    ipfs_gateway_port: int = DEFAULT_IPFS_GATEWAY_PORT
    rpc_external: bool = False
    ipfs_external: bool = False
    trainers: int = len(TRAINER_ACCOUNTS)

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.rpc_port}"

    @property
    def ipfs_api_url(self) -> str:
        return f"http://127.0.0.1:{self.ipfs_api_port}"

    def ports(self) -> dict[str, int]:
        return {
            "rpc_port": self.rpc_port,
            "p2p_port": self.p2p_port,
            "ipfs_api_port": self.ipfs_api_port,
            "ipfs_gateway_port": self.ipfs_gateway_port,
        }

    def check(self) -> None:
        ports = list(self.ports().values())
        for name, port in self.ports().items():
            if not 1 <= port <= 65535:
                raise DevStackError(f"{name.replace('_', ' ')} {port} is not a TCP port")
        if len(set(ports)) != len(ports):
            raise DevStackError(f"the stack's ports must differ, got {self.ports()}")
        if not 1 <= self.trainers <= len(TRAINER_ACCOUNTS):
            raise DevStackError(f"the demo has 1 to {len(TRAINER_ACCOUNTS)} trainers")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StackSettings:
        """Settings from ``run/stack.json``; raises ValueError for anything malformed."""
        values: dict[str, Any] = {}
        for name, f in cls.__dataclass_fields__.items():
            if name not in data:
                continue
            value = data[name]
            kind = bool if f.type in ("bool", bool) else int
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise ValueError(f"{name} must be {kind.__name__}, got {value!r}")
            values[name] = value
        settings = cls(**values)
        try:
            settings.check()
        except DevStackError as exc:
            raise ValueError(str(exc)) from None
        return settings


def resolve_settings(
    recorded: StackSettings | None,
    explicit: dict[str, Any],
    env: dict[str, str] | None = None,
) -> StackSettings:
    """Flags beat the environment (``DML_RPC_PORT`` ...), which beats the last run's settings
    (``run/stack.json``), which beat the defaults. ``explicit`` holds only the flags given."""
    env = dict(os.environ) if env is None else env
    base = recorded or StackSettings()
    values: dict[str, Any] = {}
    for name, var in PORT_ENV.items():
        if var in env and env[var].strip():
            try:
                values[name] = int(env[var])
            except ValueError:
                raise DevStackError(f"${var} must be a port number, got {env[var]!r}") from None
    values.update({k: v for k, v in explicit.items() if v is not None})
    settings = replace(base, **values)
    settings.check()
    return settings


@dataclass(frozen=True)
class StackPaths:
    state: Path

    @property
    def chain(self) -> Path:
        return self.state / "chain"

    @property
    def ipfs(self) -> Path:
        return self.state / "ipfs"

    @property
    def logs(self) -> Path:
        return self.state / "logs"

    @property
    def run(self) -> Path:
        return self.state / "run"

    @property
    def demo(self) -> Path:
        return self.state / "demo"

    @property
    def roles(self) -> Path:
        return self.state / "roles"

    @property
    def keystore(self) -> Path:
        return self.state / "keystore"

    @property
    def demo_json(self) -> Path:
        return self.state / "demo.json"

    @property
    def stack_json(self) -> Path:
        return self.run / "stack.json"

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def pidfile(self, name: str) -> Path:
        return self.run / f"{name}.pid"

    def role_dir(self, name: str, task_id: int | None) -> Path:
        """A role's state directory (journal) with its ``events.jsonl``: one per task, since a
        journal belongs to one task; the console follows ``roles/*/events.jsonl``."""
        return self.roles / f"{name}-task{task_id}"

    def events(self, name: str, task_id: int | None) -> Path:
        return self.role_dir(name, task_id) / "events.jsonl"


def component_names(trainers: int) -> list[str]:
    """Start order; ``down`` stops in the reverse order (roles first, node and Kubo last)."""
    return [
        "ipfs",
        "node",
        *[f"trainer-{i}" for i in range(1, trainers + 1)],
        "aggregator",
        "verifier",
    ]


ROLE_OF = {"aggregator": "aggregator", "verifier": "verifier"}


def role_of(name: str) -> str | None:
    if name.startswith("trainer-"):
        return "trainer"
    return ROLE_OF.get(name)
