"""Seed a dev chain with many tasks and proposals (for bench/console_perf.py).

Starts its OWN node-decentralml --dev (tests/integration/devnode.py's DevNode) on free ports
with a temporary base path (or ``--base-path DIR`` to keep the chain for later runs), then
registers a few models and sends ``--tasks`` create_task and ``--proposals`` submit_proposal
extrinsics from the six dev accounts. Every call is composed once per distinct argument set
and signed with consecutive nonces (pipelined, no waiting for receipts); the script waits
until the chain's task and proposal counters reach the targets.

    nice -n 10 .venv/bin/python bench/seed_chain.py [--tasks 10000] [--proposals 1000]
        [--base-path DIR] [--keep]
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from _results import ROOT  # noqa: F401 - puts the repository on sys.path
from decentralml.core.chain.client import CallSpec, ChainClient
from decentralml.core.chain.decentralml import (
    DecentralMl,
    TaskTerms,
    licence,
    proposal_kind,
)
from decentralml.core.errors import ChainError
from decentralml.core.keys import dev_keypair
from decentralml.core.types import ChainType, ContentRef
from substrateinterface import Keypair

from tests.integration.devnode import DevNode

ACCOUNTS = ("//Alice", "//Bob", "//Charlie", "//Dave", "//Eve", "//Ferdie")
DML = 10**12
BATCH = 600  # extrinsics sent before waiting for their inclusion


def _ref(n: int) -> ContentRef:
    data = f"seed model {n}".encode()
    return ContentRef(
        "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku",
        hashlib.sha256(data).digest(),
        len(data),
    )


def _count(client: ChainClient, item: str) -> int:
    """How many ids the pallet handed out (its Next* counter, else the map's size)."""
    for name in (f"Next{item[:-1]}Id", f"Next{item}Id"):
        if client.has_storage("DecentralMl", name):
            return int(client.storage("DecentralMl", name) or 0)
    return len(client.storage_entries("DecentralMl", item))


Planned = tuple[Keypair, CallSpec, Any]  # signer, the call, the call composed


def _pump(client: ChainClient, plan: list[Planned], what: str) -> None:
    """Sign and send the planned calls, BATCH at a time with consecutive nonces per signer,
    waiting for each batch's inclusion (every receipt is read, failures too)."""
    for start in range(0, len(plan), BATCH):
        batch = plan[start : start + BATCH]
        try:
            client.submit_composed(batch, check=False)
        except ChainError as exc:
            # The node's pool accepted some and then dropped them (seen with hundreds in
            # flight): start again from the chain's nonces; seed() sends what is missing.
            if "not included" not in str(exc):
                raise
            print(f"{what}: {exc}; resending what is missing later", flush=True)
            for signer in {s.ss58_address for s, _, _ in batch}:
                client.nonces.forget(signer)
    print(f"{what}: {len(plan)} sent", flush=True)


def _settled(client: ChainClient, item: str) -> int:
    """The on-chain count once the pool is empty (what was sent and not dropped has landed)."""
    deadline = time.monotonic() + 1800
    while client.rpc("author_pendingExtrinsics", []) and time.monotonic() < deadline:
        time.sleep(2)
    return _count(client, item)


def seed(url: str, tasks: int, proposals: int) -> dict[str, float]:
    started = time.perf_counter()
    with ChainClient(url, inclusion_timeout_s=40) as client:
        signers = [dev_keypair(a, ChainType.DEVELOPMENT) for a in ACCOUNTS]
        dml = DecentralMl(client)
        models = [m.id for m in dml.models()]
        while len(models) < 4:
            n = len(models)
            model, _ = dml.register_model(
                signers[n % len(signers)],
                f"seed-model-{n}",
                _ref(n),
                _ref(n),
                licence=licence(("MIT", "Apache-2.0", "CC-BY-4.0", "GPL-3.0")[n % 4]),
                jurisdictions=("DE", "FR", "NL", "US")[: 1 + n % 4],
            )
            models.append(model)
        calls: dict[str, Any] = {}  # each distinct call composed once

        def planned(i: int, call: str, params: dict[str, Any]) -> Planned:
            spec = CallSpec("DecentralMl", call, params)
            key = repr((call, params))
            if key not in calls:
                calls[key] = client.compose(spec.pallet, spec.call, spec.params)
            return signers[i % len(signers)], spec, calls[key]

        def task_call(i: int) -> Planned:
            terms = TaskTerms(
                reward_per_round=(1 + i % 7) * DML // 1000,
                total_rounds=1 + i % 5,
                min_trainers=1 + i % 3,
                max_trainers=4 + i % 12,
                trainer_stake=DML // 10 * (1 + i % 4),
                round_length=10 + i % 30,
                challenge_window=5,
                aggregation=("fedavg", "median", "trimmed:10", "clip:1000000")[i % 4],
                asset=None if i % 3 else 1,
            )
            params = {"model_id": models[i % len(models)], "terms": terms.to_chain()}
            return planned(i, "create_task", params)

        t0 = time.perf_counter()
        while (missing := tasks - _settled(client, "Tasks")) > 0:
            _pump(client, [task_call(i) for i in range(missing)], "create_task")

        def proposal_call(i: int) -> Planned:
            model = models[i % len(models)]
            kinds = [
                proposal_kind(
                    "licence", model=model, licence=licence(("MIT", "Apache-2.0")[i % 2])
                ),
                proposal_kind(
                    "jurisdictions", model=model, jurisdictions=["DE", "FR"][: 1 + i % 2]
                ),
                proposal_kind("safety", model=model, action="flag"),
            ]
            return planned(i, "submit_proposal", {"kind": kinds[i % len(kinds)]})

        while (missing := proposals - _settled(client, "Proposals")) > 0:
            _pump(client, [proposal_call(i) for i in range(missing)], "submit_proposal")
        t, p = _count(client, "Tasks"), _count(client, "Proposals")
        print(f"on chain: {t} tasks, {p} proposals", flush=True)
        sent_s = time.perf_counter() - t0
    return {"seed_s": time.perf_counter() - started, "send_and_include_s": sent_s}


@contextmanager
def chain_node(base_path: Path | None, *, keep: bool = False) -> Iterator[DevNode]:
    """A started dev node on ``base_path`` (or a new temporary directory); stopped, and the
    temporary directory removed, afterwards unless ``keep``."""
    made = None
    if base_path is None:
        made = base_path = Path(tempfile.mkdtemp(prefix="dml-seed-"))
    node = DevNode(base_path=base_path)
    node.start()
    try:
        yield node
    finally:
        if not keep:
            node.stop()
            if made is not None:
                shutil.rmtree(made, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--proposals", type=int, default=1_000)
    parser.add_argument("--base-path", type=Path, help="keep the chain here (reused if seeded)")
    parser.add_argument(
        "--keep", action="store_true", help="leave the node running (prints its URL)"
    )
    args = parser.parse_args()
    with chain_node(args.base_path, keep=args.keep) as node:
        print(f"node at {node.ws_url}", flush=True)
        print(seed(node.ws_url, args.tasks, args.proposals), flush=True)
        if args.keep:
            print(
                f"node left running at {node.ws_url} (pid {node.process.pid if node.process else '?'})"
            )


if __name__ == "__main__":
    main()
