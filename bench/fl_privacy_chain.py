"""The chain half of bench/fl_privacy.py (and of tests/e2e/test_privacy.py): secure
aggregation through a real node and Kubo with the roles' own code, against the same task in
the clear. See fl_privacy.py's module doc for what is measured."""

from __future__ import annotations

import itertools
import statistics
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from _results import ROOT  # noqa: F401 - puts the repository on sys.path
from decentralml.core.chain.client import CallSpec, ChainClient
from decentralml.core.chain.decentralml import DecentralMl, TaskTerms, licence
from decentralml.core.config import IpfsConfig
from decentralml.core.fl import aggregate, demo_federation, encode_weights, initial_weights
from decentralml.core.fl.data import save_dataset
from decentralml.core.fl.train import local_update
from decentralml.core.keys import dev_keypair
from decentralml.core.privacy import PrivacyTerms
from decentralml.core.roles.aggregator import Aggregator
from decentralml.core.roles.base import Role, RoleOptions
from decentralml.core.roles.chainview import LiveChain
from decentralml.core.roles.events import EventLog, ProgressEvent
from decentralml.core.roles.learning import FlLearning, training_seed
from decentralml.core.roles.state import Journal
from decentralml.core.roles.trainer import Trainer
from decentralml.core.roles.verifier import Verifier
from decentralml.core.storage.kubo import KuboStore
from substrateinterface import Keypair

from tests.integration.devnode import DevNode
from tests.integration.kubo import KuboDaemon

UNIT = 10**12
CLIP_RULE = "clip:1000000"


class Run:
    """One task's roles in threads, and what they reported."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.events: list[ProgressEvent] = []
        self.roles: list[Role] = []
        self.threads: list[threading.Thread] = []
        self.lock = threading.Lock()

    def sink(self, event: ProgressEvent) -> None:
        with self.lock:
            self.events.append(event)

    def start(self) -> None:
        for role in self.roles:
            thread = threading.Thread(target=role.run, name=f"{self.name}-{role.name}", daemon=True)
            thread.start()
            self.threads.append(thread)

    def stop(self) -> None:
        for role in self.roles:
            role.stop_event.set()
        for thread in self.threads:
            thread.join(timeout=30)

    def of(self, role: str, phase: str) -> list[ProgressEvent]:
        with self.lock:
            return [e for e in self.events if e.role == role and e.phase == phase]


def _roles(
    run: Run,
    url: str,
    store: KuboStore,
    task: int,
    trainers: list[tuple[Keypair, Path]],
    aggregator: Keypair,
    verifier: Keypair,
    verifier_data: Path,
    workdir: Path,
    rounds: int,
    stop_after: dict[str, int],
) -> None:
    log = EventLog(sinks=(run.sink,))

    def journal(role: str, who: str) -> Journal:
        return Journal(workdir / f"{run.name}-{role}-{who}", role=role, task=task, account=who)

    for key, data in trainers:
        who = key.ss58_address
        trainer = Trainer(
            LiveChain(ChainClient(url), key),
            store,
            FlLearning(),
            journal("trainer", who),
            log,
            RoleOptions(task=task, poll_s=0.1, max_rounds=rounds),
            data=data,
            jurisdiction="DE",
            exit_after_reveal=stop_after.get(who),
        )
        run.roles.append(trainer)
    run.roles.append(
        Aggregator(
            LiveChain(ChainClient(url), aggregator),
            store,
            FlLearning(),
            journal("aggregator", aggregator.ss58_address),
            log,
            RoleOptions(task=task, poll_s=0.1, max_rounds=rounds),
        )
    )
    run.roles.append(
        Verifier(
            LiveChain(ChainClient(url), verifier),
            store,
            FlLearning(),
            journal("verifier", verifier.ss58_address),
            log,
            RoleOptions(task=task, poll_s=0.1, max_rounds=rounds),
            data=verifier_data,
        )
    )


def _wait(run: Run, rounds: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(run.of("aggregator", "finalized")) >= rounds:
            return
        failed = [e for e in run.events if e.phase == "error"]
        if failed:
            raise RuntimeError(f"{run.name}: {failed[0].role} failed: {failed[0].message}")
        time.sleep(0.2)
    tail = "; ".join(f"{e.role} {e.phase} {e.message}" for e in run.events[-8:])
    raise TimeoutError(f"{run.name}: {rounds} rounds not finalized in {timeout:.0f} s ({tail})")


def _round_seconds(run: Run) -> float:
    stamps = [e.ts for e in run.of("aggregator", "aggregated")]
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    return statistics.median(gaps) if gaps else float("nan")


def run_chain_scenario(
    trainers: int = 10, rounds: int = 3, dropouts: int = 3, seed: int = 0
) -> dict[str, Any]:
    """Plain then masked task, ``rounds`` rounds each; in the masked task's last round
    ``dropouts`` trainers stop right after revealing. Returns the figures and checks."""
    shards, test, spec = demo_federation("digits", trainers, 0.5, seed)
    spec = replace(spec, plan=replace(spec.plan, server_momentum=0.0))
    weights = initial_weights(spec, seed)
    keys = [Keypair.create_from_uri(f"//Private{i}", ss58_format=42) for i in range(trainers)]
    with tempfile.TemporaryDirectory(prefix="dml-privacy-") as tmp:
        work = Path(tmp)
        node = DevNode(base_path=work / "chain")
        kubo = KuboDaemon(repo=work / "ipfs")
        try:
            kubo.start()
            node.start()
            client = ChainClient(node.ws_url)
            store = KuboStore(IpfsConfig(api_url=kubo.api_url))
            chain = client.chain_type()
            alice = dev_keypair("//Alice", chain)
            client.submit_many(
                alice,
                [
                    CallSpec(
                        "Balances",
                        "transfer_keep_alive",
                        {"dest": k.ss58_address, "value": 100 * UNIT},
                    )
                    for k in keys
                ],
            )
            dml = DecentralMl(client)
            arch = store.add_bytes(spec.to_bytes()).ref
            initial = store.add_bytes(encode_weights(weights)).ref
            model, _ = dml.register_model(
                alice, "bench-private", arch, initial, licence=licence("Apache-2.0")
            )
            data = []
            for i, shard in enumerate(shards):
                path = work / f"trainer-{i}.npz"
                save_dataset(shard, path)
                data.append(path)
            verifier_data = work / "verifier.npz"
            save_dataset(test, verifier_data)
            out: dict[str, Any] = {"dropouts": dropouts}
            for name, privacy, agg_uri, ver_uri in (
                ("plain", PrivacyTerms(), "//Bob", "//Charlie"),
                ("masked", PrivacyTerms("secagg"), "//Dave", "//Eve"),
            ):
                terms = TaskTerms(
                    reward_per_round=10 * UNIT,
                    total_rounds=rounds,
                    min_trainers=trainers,
                    max_trainers=trainers,
                    trainer_stake=UNIT,
                    round_length=40,
                    challenge_window=2,
                    aggregation=CLIP_RULE,
                    privacy=privacy,
                )
                task, _ = dml.create_task(alice, model, terms)
                run = Run(name)
                last = rounds - 1 if name == "masked" else None
                stop_after = {k.ss58_address: last for k in keys[:dropouts]} if last else {}
                _roles(
                    run,
                    node.ws_url,
                    store,
                    task,
                    list(zip(keys, data, strict=True)),
                    dev_keypair(agg_uri, chain),
                    dev_keypair(ver_uri, chain),
                    verifier_data,
                    work,
                    rounds,
                    stop_after,
                )
                run.start()
                try:
                    _wait(run, rounds, timeout=300 + 60 * rounds)
                finally:
                    run.stop()
                out[f"{name}_round_s"] = _round_seconds(run)
                out[f"{name}_verified"] = len(run.of("verifier", "verified"))
                out[f"{name}_challenged"] = len(run.of("verifier", "challenged"))
                if name == "masked":
                    out.update(_check_dropout_round(run, dml, store, spec, shards, task, keys))
            out["verifier_match"] = (
                out["masked_verified"] >= rounds and out["masked_challenged"] == 0
            )
            return out
        finally:
            node.stop()
            kubo.stop()


def _check_dropout_round(
    run: Run,
    dml: DecentralMl,
    store: KuboStore,
    spec: Any,
    shards: list[Any],
    task: int,
    keys: list[Keypair],
) -> dict[str, Any]:
    """Recompute the last round's deltas (training is deterministic) and compare the chain's
    aggregate with the clip-rule FedAvg of all of them."""
    from decentralml.core.fl.weights import decode_weights

    found = dml.task(task)
    assert found is not None
    result = found.fields.get("last_result") or {}
    index = int(result["round"])
    base = decode_weights(store.cat(_ref(result["base"])))
    published = decode_weights(store.cat(_ref(result["weights"])))
    ups = []
    for key, shard in zip(keys, shards, strict=True):
        trained = local_update(spec, base, shard, seed=training_seed(task, index, key.ss58_address))
        ups.append((trained.delta, trained.samples))
    expected = aggregate(CLIP_RULE, base, ups, plan=spec.plan, seed=b"\0").weights
    error = max(float(np.max(np.abs(published[k] - expected[k]))) for k in expected)
    stopped = [e for e in run.events if e.role == "trainer" and "after revealing" in e.message]
    aggregated = run.of("aggregator", "aggregating")
    return {
        "dropout_round": index,
        "dropout_stopped": len(stopped),
        "dropout_max_error": error,
        "dropout_recovered": error < 1e-4 and len(stopped) > 0,
        "unmasked_messages": [e.message for e in aggregated],
    }


def _ref(value: Any) -> Any:
    from decentralml.core.roles.chainview import content_ref

    return content_ref(value)
