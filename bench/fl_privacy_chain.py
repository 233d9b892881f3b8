"""The chain half of bench/fl_privacy.py (and of tests/e2e/test_privacy.py): secure
aggregation through a real node and Kubo with the roles' own code, against the same task in
the clear. See fl_privacy.py's module doc for what is measured."""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from _results import ROOT  # noqa: F401 - puts the repository on sys.path
from decentralml.core.chain.client import CallSpec, ChainClient
from decentralml.core.chain.decentralml import DecentralMl, TaskTerms, licence
from decentralml.core.config import IpfsConfig, home_env
from decentralml.core.errors import InputError
from decentralml.core.fl import aggregate, demo_federation, encode_weights, initial_weights
from decentralml.core.fl.data import save_dataset
from decentralml.core.fl.train import local_update
from decentralml.core.keys import dev_keypair
from decentralml.core.privacy import PrivacyTerms
from decentralml.core.roles.events import ProgressEvent
from decentralml.core.roles.learning import training_seed
from decentralml.core.storage.kubo import KuboStore
from substrateinterface import Keypair

from tests.integration.devnode import DevNode
from tests.integration.kubo import KuboDaemon

UNIT = 10**12
CLIP_RULE = "clip:1000000"


CLI = str(Path(sys.executable).with_name("decentralml"))


class Run:
    """One task's roles, each its own ``decentralml`` process (as in a federation, where each
    runs on its own host), and the progress events they write."""

    def __init__(self, name: str, home: Path, env: dict[str, str]) -> None:
        self.name = name
        self.home = home
        self.env = env
        self.processes: list[tuple[str, subprocess.Popen[bytes], Path, Path]] = []

    def start(self, label: str, *args: str) -> None:
        events = self.home / f"{self.name}-{label}.events.jsonl"
        log = self.home / f"{self.name}-{label}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [CLI, *args, "--events", str(events), "--poll", "0.2"],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.processes.append((label, process, events, log))

    def stop(self) -> None:
        for _, process, _, _ in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for _, process, _, _ in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)

    @property
    def events(self) -> list[ProgressEvent]:
        out = []
        for _, _, path, _ in self.processes:
            if path.is_file():
                for line in path.read_text().splitlines():
                    with contextlib.suppress(ValueError, InputError):
                        out.append(ProgressEvent.from_json(line))
        return sorted(out, key=lambda e: e.ts)

    def of(self, role: str, phase: str) -> list[ProgressEvent]:
        return [e for e in self.events if e.role == role and e.phase == phase]

    def failed(self) -> str | None:
        for label, process, _, log in self.processes:
            code = process.poll()
            if code not in (None, 0):
                return f"{label} exited with {code}: {log.read_text()[-2000:]}"
        return None


def _roles(
    run: Run,
    task: int,
    trainers: list[tuple[str, Path]],
    aggregator: str,
    verifier: str,
    verifier_data: Path,
    rounds: int,
    dropouts: set[str],
    last: int,
) -> None:
    common = ["--task", str(task), "--rounds", str(rounds)]
    for i, (uri, data) in enumerate(trainers):
        extra = ["--exit-after-reveal", str(last)] if uri in dropouts else []
        run.start(
            f"trainer{i}",
            "train",
            *common,
            "--account",
            uri,
            "--data",
            str(data),
            "--jurisdiction",
            "DE",
            *extra,
        )
    run.start("aggregator", "aggregate", *common, "--account", aggregator)
    run.start("verifier", "verify", *common, "--account", verifier, "--data", str(verifier_data))


def _wait(run: Run, rounds: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(run.of("aggregator", "finalized")) >= rounds:
            return
        failure = run.failed()
        if failure:
            raise RuntimeError(f"{run.name}: {failure}")
        time.sleep(0.5)
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
    uris = [f"//Private{i}" for i in range(trainers)]
    keys = [Keypair.create_from_uri(uri, ss58_format=42) for uri in uris]
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
            env = {**home_env(work, node.ws_url, kubo.api_url), "TF_CPP_MIN_LOG_LEVEL": "2"}
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
                    challenge_window=6,
                    aggregation=CLIP_RULE,
                    privacy=privacy,
                )
                task, _ = dml.create_task(alice, model, terms)
                run = Run(name, work, env)
                last = rounds - 1
                gone = set(uris[:dropouts]) if name == "masked" else set()
                _roles(
                    run,
                    task,
                    list(zip(uris, data, strict=True)),
                    agg_uri,
                    ver_uri,
                    verifier_data,
                    rounds,
                    gone,
                    last,
                )
                try:
                    _wait(run, rounds, timeout=300 + 60 * rounds)
                finally:
                    run.stop()
                out[f"{name}_round_s"] = _round_seconds(run)
                out[f"{name}_verified"] = len(run.of("verifier", "verified"))
                out[f"{name}_challenged"] = len(run.of("verifier", "challenged"))
                out[f"{name}_verifier_log"] = [
                    f"{e.phase} r{e.round}: {e.message}"
                    for e in run.events
                    if e.role == "verifier" and e.phase not in ("waiting", "fetching")
                ][-12:]
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
    stopped = [e for e in run.events if e.phase == "done" and "after revealing" in e.message]
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
