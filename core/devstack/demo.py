"""Seeding the demo federation: its files, what the chain already has, and the steps left."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..types import DEFAULT_AGGREGATION
from .settings import (
    AGGREGATOR,
    DEMO_ALPHA,
    DEMO_ASSET_ID,
    DEMO_CHALLENGE_WINDOW,
    DEMO_DATASET,
    DEMO_LICENCE,
    DEMO_MODEL_NAME,
    DEMO_ROUND_LENGTH,
    DEMO_ROUNDS,
    DEMO_SEED,
    LIVE_TASK,
    SPONSOR,
    TRAINER_ACCOUNTS,
    TRAINER_JURISDICTIONS,
    USABLE_MODEL,
    VERIFIER,
    Progress,
    StackPaths,
)

if TYPE_CHECKING:
    from ..chain.client import ChainClient
    from ..storage.kubo import KuboStore

log = logging.getLogger(__name__)


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
    from ..fl.data import demo_federation, save_dataset
    from ..fl.models import initial_weights
    from ..fl.weights import encode_weights

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
        from ..chain.decentralml import DecentralMl

        self.chain = chain
        self.store = store
        self.dml = DecentralMl(chain)
        self.paths = paths
        self.trainers = trainers
        self.progress = progress

    def _key(self, uri: str) -> Any:
        from ..keys import dev_keypair

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
        from ..chain.decentralml import licence
        from ..types import ContentRef

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
        from ..chain.decentralml import TaskTerms

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
            aggregation=DEFAULT_AGGREGATION,
            asset=DEMO_ASSET_ID,
        )

    def _create_asset(self, sponsor: Any) -> None:
        self.progress(f"creating the demo asset {DEMO_ASSET_ID} (DCC) and minting it")
        self.chain.asset_create(sponsor, DEMO_ASSET_ID, 1)
        self.chain.asset_set_metadata(sponsor, DEMO_ASSET_ID, "Demo Compute Credit", "DCC", 12)
        from ..chain.client import CallSpec

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
