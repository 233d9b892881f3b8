"""The local dev stack: ``node-decentralml --dev``, a private Kubo and a seeded demo federation.

Everything lives under one project state directory (``$DECENTRALML_STATE``, default ``./.state``;
``scripts/env.sh`` sets it to ``<repo>/.state``)::

    chain/            the node's --base-path (kept between runs: a second `up` resumes)
    ipfs/             the Kubo repo (127.0.0.1 only, no bootstrap peers, --offline)
    logs/<name>.log   one log per component
    run/<name>.pid    a JSON pid record per running component (pid + start time)
    run/stack.json    the ports and flags the stack was last started with
    demo/             the demo model files and the trainers' and verifier's datasets
    demo.json         what the demo seeding created (model, asset, task ids)
    roles/<name>-task<id>/   each role's resume journal and events.jsonl (the console's layout)

Components: ``node``, ``ipfs``, ``trainer-1`` .. ``trainer-N``, ``aggregator``, ``verifier``.
Every child is started detached in its own process group with its output in its log, so
``decentralml dev up`` returns once the stack answers and ``decentralml dev down`` (from any
shell) stops them: SIGTERM to each whole group, SIGKILL after a timeout, then a check that no
process and no port is left.

Binding: the node's RPC and Kubo's API listen on 127.0.0.1. ``rpc_external`` (for a container)
adds the node's ``--rpc-external --rpc-cors all`` so Polkadot-JS Apps and other containers reach
ws://<host>:9944 (the RPC method set is then "safe"); ``ipfs_external`` binds Kubo's API and
gateway to 0.0.0.0. Neither belongs on a machine whose ports are reachable by others.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import DecentralMLError
from .proc import (
    PidRecord,
    ProcessError,
    describe_pid,
    listening_pids,
    port_free,
    port_listening,
    read_record,
    spawn,
    stop_record,
    write_record,
)

if TYPE_CHECKING:
    from .chain.client import ChainClient
    from .storage.kubo import KuboStore

log = logging.getLogger(__name__)

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


class DevStackError(DecentralMLError):
    """The dev stack could not be started, seeded or stopped; the message says what to do."""


class PortTaken(DevStackError):
    """A port the stack needs is held by a program that is not part of this stack."""


# ---- settings and paths --------------------------------------------------------------------------
def default_state_dir() -> Path:
    """``$DECENTRALML_STATE``, else ``./.state``."""
    return Path(os.environ.get("DECENTRALML_STATE") or ".state").expanduser().absolute()


def find_node_binary() -> Path | None:
    """``$DML_NODE_BIN``, else ``node-decentralml`` on PATH, else the cargo target dir."""
    explicit = os.environ.get("DML_NODE_BIN")
    if explicit:
        return Path(explicit)
    found = shutil.which("node-decentralml")
    if found:
        return Path(found)
    cache = Path(os.environ.get("DECENTRALML_CACHE") or Path.home() / ".cache" / "decentralml")
    target = Path(os.environ.get("CARGO_TARGET_DIR") or cache / "target")
    candidate = target / "debug" / "node-decentralml"
    return candidate if candidate.exists() else None


def find_ipfs_binary() -> Path | None:
    """``$DML_IPFS_BIN``, else ``$DECENTRALML_CACHE/tools/ipfs`` (scripts/setup-kubo), else PATH."""
    explicit = os.environ.get("DML_IPFS_BIN")
    if explicit:
        return Path(explicit)
    cache = Path(os.environ.get("DECENTRALML_CACHE") or Path.home() / ".cache" / "decentralml")
    candidate = cache / "tools" / "ipfs"
    if candidate.exists():
        return candidate
    found = shutil.which("ipfs")
    return Path(found) if found else None


def find_cli() -> list[str]:
    """How to run the ``decentralml`` command: the script next to this interpreter, else PATH."""
    beside = Path(sys.executable).parent / "decentralml"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("decentralml")
    if found:
        return [found]
    return [
        sys.executable,
        "-c",
        "import sys; from decentralml.core.cli import main; sys.exit(main())",
    ]


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


# ---- HTTP probes (stdlib only: fast, no substrate-interface) ----------------------------------
def node_rpc(port: int, method: str, params: list[Any] | None = None, timeout: float = 2.0) -> Any:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []})
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}",
        data=body.encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - http://127.0.0.1
        reply = json.loads(resp.read())
    if "error" in reply:
        raise DevStackError(f"{method}: {reply['error']}")
    return reply["result"]


def ipfs_version(port: int, timeout: float = 2.0) -> str:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v0/version", data=b"", method="POST")
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - http://127.0.0.1
        return str(json.loads(resp.read())["Version"])


PROBE_ERRORS = (OSError, urllib.error.URLError, ValueError, KeyError, DevStackError)


def node_heads(port: int) -> tuple[int, int]:
    """(best, finalized) block numbers."""
    best = int(node_rpc(port, "chain_getHeader")["number"], 16)
    head = node_rpc(port, "chain_getFinalizedHead")
    finalized = int(node_rpc(port, "chain_getHeader", [head])["number"], 16)
    return best, finalized


# ---- Kubo repo -----------------------------------------------------------------------------
def kubo_config_patch(cfg: dict[str, Any], settings: StackSettings) -> dict[str, Any]:
    """The private-repo settings of scripts/setup-kubo, with this stack's ports: API and gateway
    on 127.0.0.1 (0.0.0.0 with ``ipfs_external``), no swarm listener (the daemon runs
    --offline), empty bootstrap list, no mDNS, no routing."""
    host = "0.0.0.0" if settings.ipfs_external else "127.0.0.1"  # noqa: S104 - opt-in, containers
    addresses = dict(cfg.get("Addresses") or {})
    addresses["API"] = f"/ip4/{host}/tcp/{settings.ipfs_api_port}"
    addresses["Gateway"] = f"/ip4/{host}/tcp/{settings.ipfs_gateway_port}"
    addresses["Swarm"] = []
    out = dict(cfg)
    out["Addresses"] = addresses
    out["Bootstrap"] = []
    discovery = dict(out.get("Discovery") or {})
    discovery["MDNS"] = {**dict(discovery.get("MDNS") or {}), "Enabled": False}
    out["Discovery"] = discovery
    routing = dict(out.get("Routing") or {})
    routing["Type"] = "none"
    out["Routing"] = routing
    return out


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
    from .roles.events import ProgressEvent

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


# ---- demo seeding --------------------------------------------------------------------------------
@dataclass
class DemoRecord:
    """``demo.json``: what seeding created, so a second ``up`` resumes instead of seeding twice."""

    genesis: str
    trainers: int = len(TRAINER_ACCOUNTS)
    model_id: int | None = None
    architecture: dict[str, Any] | None = None  # ContentRef.to_json()
    initial_weights: dict[str, Any] | None = None
    asset_id: int | None = None
    task_id: int | None = None
    accounts: dict[str, str] = field(default_factory=dict)  # component -> dev URI
    data: dict[str, str] = field(default_factory=dict)  # component -> dataset path
    seeded_at: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DemoRecord:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


def read_demo(path: Path) -> DemoRecord | None:
    try:
        data = json.loads(path.read_text())
        return DemoRecord.from_json(data) if isinstance(data, dict) else None
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError):
        log.warning("ignoring the unreadable demo record %s", path)
        return None


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)


@dataclass(frozen=True)
class ChainFacts:
    """What the chain says about a recorded demo (read before deciding what to seed)."""

    genesis: str
    model_usable: bool = False  # recorded model exists, Active/Flagged, same architecture
    asset_exists: bool = False  # the demo asset exists
    task_live: bool = False  # recorded task exists, Open/Running, on the recorded model
    profiles_missing: tuple[str, ...] = ()  # trainer URIs without a trainer profile


SEED_STEPS = ("register_model", "create_asset", "set_profiles", "create_task")


def plan_seed(record: DemoRecord | None, facts: ChainFacts) -> list[str]:
    """The seeding steps still needed, in order. A record from another chain (different genesis)
    counts as no record; a step whose object is gone or unusable on chain is redone, and a new
    model needs a new task."""
    fresh = record is None or record.genesis != facts.genesis
    steps: list[str] = []
    if fresh or record is None or record.model_id is None or not facts.model_usable:
        steps.append("register_model")
    if not facts.asset_exists:
        steps.append("create_asset")
    if facts.profiles_missing:
        steps.append("set_profiles")
    if "register_model" in steps or record is None or record.task_id is None or not facts.task_live:
        steps.append("create_task")
    return steps


def demo_files(directory: Path, trainers: int) -> dict[str, Path]:
    files = {
        "architecture": directory / "model-spec.json",
        "initial_weights": directory / "initial-weights.npz",
        "verifier": directory / "test.npz",
    }
    for i in range(1, trainers + 1):
        files[f"trainer-{i}"] = directory / f"trainer-{i}.npz"
    return files


def write_demo_files(directory: Path, trainers: int) -> dict[str, Path]:
    """The demo model (spec and initial weights, contract A) and the partitioned demo data:
    one dataset per trainer (non-IID, Dirichlet over labels) and a held-out set for the
    verifier. Deterministic (fixed seed); files already there are kept."""
    files = demo_files(directory, trainers)
    if all(p.exists() for p in files.values()):
        return files
    from .fl.data import demo_federation, save_dataset
    from .fl.models import initial_weights
    from .fl.weights import encode_weights

    parts, test, spec = demo_federation(DEMO_DATASET, trainers, DEMO_ALPHA, DEMO_SEED)
    directory.mkdir(parents=True, exist_ok=True)
    for i, part in enumerate(parts, 1):
        save_dataset(part, files[f"trainer-{i}"])
    save_dataset(test, files["verifier"])
    _atomic_bytes(files["architecture"], spec.to_bytes())
    _atomic_bytes(files["initial_weights"], encode_weights(initial_weights(spec, DEMO_SEED)))
    return files


def _atomic_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


class DemoSeeder:
    """Seeds the demo federation on a dev chain, idempotently (see :func:`plan_seed`)."""

    def __init__(
        self,
        chain: ChainClient,
        store: KuboStore,
        paths: StackPaths,
        trainers: int,
        progress: Progress,
    ) -> None:
        from .chain.decentralml import DecentralMl

        self.chain = chain
        self.store = store
        self.dml = DecentralMl(chain)
        self.paths = paths
        self.trainers = trainers
        self.progress = progress

    def _key(self, uri: str) -> Any:
        from .keys import dev_keypair

        return dev_keypair(uri, self.chain.chain_type())

    def trainer_uris(self) -> list[str]:
        return list(TRAINER_ACCOUNTS[: self.trainers])

    def facts(self, record: DemoRecord | None, architecture_cid: str) -> ChainFacts:
        genesis = str(self.chain.rpc("chain_getBlockHash", [0]))
        model_usable = task_live = False
        if record is not None and record.genesis == genesis and record.model_id is not None:
            model = self.dml.model(record.model_id)
            model_usable = (
                model is not None
                and model.status in USABLE_MODEL
                and model.architecture.cid == architecture_cid
            )
            if model_usable and record.task_id is not None:
                task = self.dml.task(record.task_id)
                task_live = (
                    task is not None
                    and task.status() in LIVE_TASK
                    and int(task.get("model", task.get("model_id", -1))) == record.model_id
                )
        missing = tuple(
            uri
            for uri in self.trainer_uris()
            if self.dml.trainer_profile(self._key(uri).ss58_address) is None
        )
        return ChainFacts(
            genesis=genesis,
            model_usable=model_usable,
            asset_exists=self.chain.asset(DEMO_ASSET_ID) is not None,
            task_live=task_live,
            profiles_missing=missing,
        )

    def seed(self) -> DemoRecord:
        from .chain.decentralml import licence
        from .types import ContentRef

        files = write_demo_files(self.paths.demo, self.trainers)
        # Uploading is idempotent (same bytes, same CID) and cheap; it also restores the
        # content if the IPFS repo was wiped while the chain was kept.
        architecture = self.store.add_file(files["architecture"]).ref
        weights = self.store.add_file(files["initial_weights"]).ref
        record = read_demo(self.paths.demo_json)
        facts = self.facts(record, architecture.cid)
        steps = plan_seed(record, facts)
        if record is None or record.genesis != facts.genesis:
            record = DemoRecord(genesis=facts.genesis, trainers=self.trainers)
        record.trainers = self.trainers
        record.accounts = {
            **{f"trainer-{i}": uri for i, uri in enumerate(self.trainer_uris(), 1)},
            "aggregator": AGGREGATOR,
            "verifier": VERIFIER,
            "sponsor": SPONSOR,
        }
        record.data = {
            name: str(path)
            for name, path in files.items()
            if name.startswith("trainer-") or name == "verifier"
        }
        if not steps:
            self.progress(
                f"demo already seeded: model {record.model_id}, task {record.task_id} (resuming)"
            )
            return record
        sponsor = self._key(SPONSOR)
        if "register_model" in steps:
            self.progress("registering the demo model (spec and initial weights on IPFS)")
            model_id, _ = self.dml.register_model(
                sponsor,
                DEMO_MODEL_NAME,
                ContentRef.from_chain(architecture.to_chain()),
                weights,
                licence=licence(spdx=DEMO_LICENCE, commercial_use=True),
            )
            record.model_id = model_id
            record.architecture = architecture.to_json()
            record.initial_weights = weights.to_json()
            record.task_id = None
            write_json(self.paths.demo_json, record.to_json())
        if "create_asset" in steps:
            self._create_asset(sponsor)
        record.asset_id = DEMO_ASSET_ID
        if "set_profiles" in steps:
            self._set_profiles(facts.profiles_missing)
        if "create_task" in steps:
            assert record.model_id is not None
            terms = self.task_terms()
            self.progress(
                f"funding a task on model {record.model_id} in asset {DEMO_ASSET_ID}: "
                f"{terms.total_rounds} rounds, {self.trainers} trainers"
            )
            task_id, _ = self.dml.create_task(sponsor, record.model_id, terms)
            record.task_id = task_id
        record.seeded_at = time.time()
        write_json(self.paths.demo_json, record.to_json())
        self.progress(f"demo seeded: model {record.model_id}, task {record.task_id}")
        return record

    def task_terms(self) -> Any:
        from .chain.decentralml import TaskTerms

        asset = self.chain.asset(DEMO_ASSET_ID)
        unit = 10 ** (asset.decimals if asset is not None else 12)
        params = self.dml.params()
        min_stake = int(params.get("min_trainer_stake", 0) or 0)
        return TaskTerms(
            reward_per_round=100 * unit,
            total_rounds=DEMO_ROUNDS,
            min_trainers=self.trainers,
            max_trainers=self.trainers,
            trainer_stake=max(min_stake, unit),
            round_length=DEMO_ROUND_LENGTH,
            challenge_window=DEMO_CHALLENGE_WINDOW,
            aggregation="fedavg",
            asset=DEMO_ASSET_ID,
        )

    def _create_asset(self, sponsor: Any) -> None:
        self.progress(f"creating the demo asset {DEMO_ASSET_ID} (DCC) and minting it")
        self.chain.asset_create(sponsor, DEMO_ASSET_ID, 1)
        self.chain.asset_set_metadata(sponsor, DEMO_ASSET_ID, "Demo Compute Credit", "DCC", 12)
        from .chain.client import CallSpec

        calls = [
            CallSpec(
                "Assets",
                "mint",
                {
                    "id": DEMO_ASSET_ID,
                    "beneficiary": self._key(uri).ss58_address,
                    "amount": 100_000 * 10**12,
                },
            )
            for uri in (SPONSOR, *self.trainer_uris(), AGGREGATOR, VERIFIER)
        ]
        self.chain.submit_many(sponsor, calls)

    def _set_profiles(self, uris: Sequence[str]) -> None:
        """Trainer profiles (a jurisdiction each), sent concurrently: one block, not three."""
        self.progress(f"declaring trainer jurisdictions for {len(uris)} trainer(s)")
        errors: list[BaseException] = []

        def one(uri: str) -> None:
            code = TRAINER_JURISDICTIONS[TRAINER_ACCOUNTS.index(uri)]
            try:
                self.dml.set_trainer_profile(self._key(uri), code)
            except BaseException as exc:  # re-raised below, in the caller's thread
                errors.append(exc)

        threads = [threading.Thread(target=one, args=(u,), daemon=True) for u in uris]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]


# ---- multi-node networks (docker-compose.yml) --------------------------------------------------
def build_chain_spec(chain: str = "local", node_bin: Path | None = None) -> dict[str, Any]:
    """``node-decentralml build-spec --chain <chain>`` as JSON."""
    import subprocess

    binary = node_bin or find_node_binary()
    if binary is None or not binary.exists():
        raise DevStackError("node-decentralml not found: build it or set DML_NODE_BIN")
    done = subprocess.run(
        [str(binary), "build-spec", "--chain", chain, "--disable-default-bootnode"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0:
        raise DevStackError(f"build-spec --chain {chain} failed: {done.stderr.strip()[-500:]}")
    spec = json.loads(done.stdout)
    if not isinstance(spec, dict):
        raise DevStackError("build-spec did not print a chain spec")
    return spec


def endow_chain_spec(
    spec: dict[str, Any],
    addresses: Sequence[str],
    *,
    native: int,
    asset: int,
    asset_id: int = DEMO_ASSET_ID,
    bootnodes: Sequence[str] | None = None,
) -> dict[str, Any]:
    """A copy of a chain spec (with a genesis patch) whose genesis also gives each address
    ``native`` planck and ``asset`` units of ``asset_id``: how a network whose chain type is
    not Development (where the dev keys are refused) gets funded trainer accounts.
    Addresses already endowed keep their balance. ``bootnodes`` replaces the spec's list."""
    out: dict[str, Any] = json.loads(json.dumps(spec))
    try:
        patch = out["genesis"]["runtimeGenesis"]["patch"]
        balances: list[list[Any]] = patch["balances"]["balances"]
        accounts: list[list[Any]] = patch["assets"]["accounts"]
    except (KeyError, TypeError):
        raise DevStackError(
            "the chain spec has no genesis patch with balances and assets (use build-spec "
            "without --raw)"
        ) from None
    if not any(a[0] == asset_id for a in patch["assets"].get("assets", [])):
        raise DevStackError(f"the chain spec's genesis has no asset {asset_id}")
    have_native = {str(b[0]) for b in balances}
    have_asset = {str(a[1]) for a in accounts if a[0] == asset_id}
    for address in addresses:
        if address not in have_native:
            balances.append([address, native])
            have_native.add(address)
        if address not in have_asset:
            accounts.append([asset_id, address, asset])
            have_asset.add(address)
    if bootnodes is not None:
        out["bootNodes"] = list(bootnodes)
    return out


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


def roles_available() -> bool:
    """True once the CLI has the role commands of contract B (train, aggregate, verify)."""
    import argparse

    from .cli import build_parser

    for action in build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            return {"train", "aggregate", "verify"} <= set(action.choices)
    return False


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
        from .chain.client import ChainClient
        from .config import IpfsConfig
        from .storage.kubo import KuboStore

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
        if not roles_available():
            self.progress(
                "the training roles (decentralml train/aggregate/verify) are not installed: "
                "the demo task is funded but nobody trains it"
            )
            return
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
        from .roles.events import ProgressEvent

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


__all__ = [
    "ComponentStatus",
    "DemoRecord",
    "DevStack",
    "DevStackError",
    "DownReport",
    "PortTaken",
    "ProcessError",
    "StackSettings",
    "plan_seed",
    "resolve_settings",
]
