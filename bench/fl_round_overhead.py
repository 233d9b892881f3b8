"""Benchmark: one federated round through the chain and IPFS against a pure TFF simulation
round of the same work, 10 trainers.

Target (issue 5): the chain + IPFS round costs at most 1.5x the pure TFF round.

Same work on both sides: sklearn digits (demo federation, 10 trainers, Dirichlet 1.0), the
demo spec (small CNN, 3 local epochs, batch 16), on this machine.

- Pure TFF: ``tff.learning.algorithms.build_weighted_fed_avg`` built and traced once, then
  ``process.next`` over the 10 clients' datasets is timed (steady state, median of runs).
- Chain + IPFS, with the roles' own code paths, per round:
  * train: ``fl.train.local_update`` for each trainer (TFF model-delta client work), in
    ``--train-processes`` trainer processes at once (default 2, the cores of this machine:
    in a federation every trainer is its own process on its own machine, and TFF's
    simulation also spreads the clients over every core; 0 = one after another here);
  * upload: encode each delta (naming its trainer and round) and, in the reveal window, add
    it to Kubo (``KuboStore``, CID and sha256 checked against the committed ones);
  * chain wait: the 10 ``commit_update`` extrinsics sent at once (one thread per trainer) until
    all are included, then the 10 ``reveal_update`` (the window opens once all committed), ``submit_aggregate`` until included, then ``finalize_round`` as soon as
    the challenge window (1 block: on an instantly sealed chain, the next idle block, at most
    2 s away) allows, until included (it opens the next round);
  * aggregate: fetch the 10 updates from Kubo (verified), decode against the base, FedAvg
    (``fl.aggregate``), encode and upload the result (``roles.combine``).
  Reported per phase, median over the rounds.

The chain's part is a fixed cost per round, so the ratio depends on how much training a round
holds: it is measured at several work sizes (``--local-epochs``; 3 is the demo spec's, the
rest of the spec unchanged), each with its own model and task, on a dev node of each
``--sealing`` (instant: the dev chain's default, a block as soon as transactions are ready;
aura: 2 s slots, as on a multi-validator chain), all in one run against the same TFF baseline.

    nice -n 10 .venv/bin/python bench/fl_round_overhead.py [--rounds 3] [--tff-runs 3]
        [--local-epochs 2 3 60] [--sealing instant aura]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from _results import result, write
from decentralml.core.chain.client import CallSpec, ChainClient
from decentralml.core.chain.commitment import update_commitment
from decentralml.core.chain.decentralml import AggregateClaim, DecentralMl, TaskTerms, licence
from decentralml.core.config import IpfsConfig
from decentralml.core.fl.weights import UpdateOrigin
from decentralml.core.keys import dev_keypair
from decentralml.core.roles.chainview import LiveChain, UpdateView
from decentralml.core.roles.combine import check_update, combine
from decentralml.core.roles.learning import FlLearning
from decentralml.core.storage.cid import compute_cid
from decentralml.core.storage.kubo import KuboStore
from decentralml.core.types import ContentRef
from substrateinterface import Keypair

from tests.integration.devnode import DevNode
from tests.integration.kubo import KuboDaemon

TRAINERS = 10
UNIT = 10**12


def tff_round_times(spec: Any, weights: Any, shards: list[Any], runs: int) -> list[float]:
    from decentralml.core.fl import tff_client
    from decentralml.core.fl.models import layer_shapes

    tf, tff = tff_client.modules()
    input_spec = (
        tf.TensorSpec([None, *spec.input_shape], tf.float32),
        tf.TensorSpec([None], tf.int32),
    )

    def model_fn() -> Any:
        return tff.learning.models.from_keras_model(
            tff_client.keras_model(spec),
            loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            input_spec=input_spec,
            metrics=[tf.keras.metrics.SparseCategoricalAccuracy()],
        )

    process = tff.learning.algorithms.build_weighted_fed_avg(
        model_fn,
        client_optimizer_fn=tff.learning.optimizers.build_sgdm(
            learning_rate=spec.plan.learning_rate
        ),
        server_optimizer_fn=tff.learning.optimizers.build_sgdm(
            learning_rate=spec.plan.server_learning_rate
        ),
    )
    names = [n for n, _ in layer_shapes(spec)]
    state = process.initialize()
    state = process.set_model_weights(
        state,
        tff.learning.models.ModelWeights(trainable=[weights[n] for n in names], non_trainable=[]),
    )
    data = [tff_client.client_dataset(spec, s.x, s.y, i) for i, s in enumerate(shards)]
    state = process.next(state, data).state  # warm-up: tracing
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        state = process.next(state, data).state
        times.append(time.perf_counter() - started)
    return times


def setup_chain(
    client: ChainClient,
    store: KuboStore,
    spec: Any,
    initial: bytes,
    keys: list[Keypair],
    challenge_window: int = 1,
) -> tuple[int, Keypair]:
    dml = DecentralMl(client)
    alice = dev_keypair("//Alice", client.chain_type())
    bob = dev_keypair("//Bob", client.chain_type())
    client.submit_many(
        alice,
        [
            CallSpec(
                "Balances", "transfer_keep_alive", {"dest": k.ss58_address, "value": 100 * UNIT}
            )
            for k in keys
        ],
    )
    arch = store.add_bytes(spec.to_bytes()).ref
    weights = store.add_bytes(initial).ref
    model, _ = dml.register_model(
        alice, "bench-digits", arch, weights, licence=licence("Apache-2.0")
    )
    terms = TaskTerms(
        reward_per_round=10 * UNIT,
        total_rounds=20,
        min_trainers=TRAINERS,
        max_trainers=TRAINERS,
        trainer_stake=UNIT,
        round_length=60,
        challenge_window=challenge_window,
        aggregation="fedavg",
    )
    task, _ = dml.create_task(alice, model, terms)

    def enrol(k: Keypair) -> None:
        dml.set_trainer_profile(k, "DE")
        dml.task_call(k, "join_task", task)

    run_all([lambda k=k: enrol(k) for k in keys])
    dml.task_call(bob, "bond_aggregator", task)
    dml.task_call(bob, "start_round", task)
    return task, bob


def run_all(jobs: list[Any]) -> None:
    errors: list[BaseException] = []

    def wrap(job: Any) -> None:
        try:
            job()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=wrap, args=(j,)) for j in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def train_one(job: tuple[Any, Any, Any, int]) -> Any:
    """One trainer's ``local_update`` (in a trainer process of the pool, or here)."""
    from decentralml.core.fl.train import local_update

    spec, base, shard, seed = job
    return local_update(spec, base, shard, seed=seed)


def commit_and_reveal(
    dml: DecentralMl,
    store: KuboStore,
    task: int,
    index: int,
    keys: list[Keypair],
    payloads: list[bytes],
    reports: list[tuple[int, float, float]],
) -> tuple[float, float]:
    """Commit-reveal, as the trainers do: commitments first (bytes unpublished), then, the
    window being open once everyone committed, each upload to Kubo and its reveal. ``reports``
    are each trainer's ``(samples, loss, accuracy)``; ``(chain seconds, upload seconds)``."""
    started = time.perf_counter()
    salt = bytes(32)
    refs = [ContentRef(*compute_cid([p])) for p in payloads]
    run_all(
        [
            lambda k=k, r=r, n=n: dml.commit_update(
                k, task, index, update_commitment(task, index, k.ss58_address, r, n, salt)
            )
            for k, r, (n, _, _) in zip(keys, refs, reports, strict=True)
        ]
    )
    chain = time.perf_counter() - started
    started = time.perf_counter()
    for payload, want in zip(payloads, refs, strict=True):
        assert store.add_bytes(payload).ref == want
    upload = time.perf_counter() - started
    started = time.perf_counter()
    run_all(
        [
            lambda k=k, r=r, n=n, lo=lo, a=a: dml.reveal_update(k, task, index, r, n, lo, a, salt)
            for k, r, (n, lo, a) in zip(keys, refs, reports, strict=True)
        ]
    )
    return chain + time.perf_counter() - started, upload


def claim(index: int, ref: ContentRef, keys) -> AggregateClaim:
    """The bench's aggregate for round ``index``: every trainer included, metrics fixed."""
    return AggregateClaim(index, ref, tuple(k.ss58_address for k in keys), 0.5, 0.5)


def aggregate_updates(
    store: KuboStore,
    learning: FlLearning,
    spec: Any,
    view: LiveChain,
    task: int,
    index: int,
    base: Any,
    keys: list[Keypair],
) -> ContentRef:
    """The aggregator's code path: fetch and check every revealed update, FedAvg, upload."""
    updates: dict[str, UpdateView] = view.updates(task, index)
    participants = view.participants(task)
    checked = []
    for key in keys:
        found = check_update(
            store, learning, base, updates[key.ss58_address], index, participants, task_id=task
        )
        assert not hasattr(found, "reason"), found
        checked.append(found)
    _, payload = combine(learning, spec, "fedavg", base, checked, task=task, round_index=index)
    return store.add_bytes(payload).ref


def chain_round(
    client: ChainClient,
    store: KuboStore,
    learning: FlLearning,
    spec: Any,
    task: int,
    keys: list[Keypair],
    aggregator: Keypair,
    shards: list[Any],
    trainers: ProcessPoolExecutor | None,
) -> tuple[dict[str, float], int]:
    """One round: ``(seconds per phase, blocks from the first update to finalization)``."""
    dml = DecentralMl(client)
    agg_view = LiveChain(client, aggregator)
    current = agg_view.round(task)
    assert current is not None, "no round open"
    assert current.status == "Open", current
    index = current.index
    times = {"train": 0.0, "upload": 0.0, "chain": 0.0, "aggregate": 0.0}

    started = time.perf_counter()
    base = learning.decode(store.cat(current.base))
    jobs = [(spec, base, s, index * 100 + i) for i, s in enumerate(shards)]
    trained = list(trainers.map(train_one, jobs)) if trainers else [train_one(j) for j in jobs]
    times["train"] = time.perf_counter() - started

    started = time.perf_counter()
    payloads = [
        learning.encode(t.delta, UpdateOrigin(task, index, k.ss58_address))
        for k, t in zip(keys, trained, strict=True)
    ]
    times["upload"] = time.perf_counter() - started

    first_block = client.block_number()
    chain_s, upload_s = commit_and_reveal(
        dml, store, task, index, keys, payloads, [(t.samples, t.loss, t.accuracy) for t in trained]
    )
    times["chain"] += chain_s
    times["upload"] += upload_s

    started = time.perf_counter()
    base = learning.decode(store.cat(current.base))
    ref = aggregate_updates(store, learning, spec, agg_view, task, index, base, keys)
    times["aggregate"] = time.perf_counter() - started

    started = time.perf_counter()
    receipt = dml.submit_aggregate(aggregator, task, claim(index, ref, keys))
    while client.block_number() + 1 <= receipt.block_number + 1:
        time.sleep(0.1)
    final = dml.finalize_round(aggregator, task, index)
    times["chain"] += time.perf_counter() - started
    return times, final.block_number - first_block


def chain_rounds(
    client: ChainClient,
    store: KuboStore,
    learning: FlLearning,
    spec: Any,
    weights: Any,
    shards: list[Any],
    keys: list[Keypair],
    rounds: int,
    trainers: ProcessPoolExecutor | None,
) -> list[tuple[dict[str, float], int]]:
    """``rounds`` chain rounds of ``spec`` on a new task, after one warm-up round."""
    from decentralml.core.fl import encode_weights

    task, aggregator = setup_chain(client, store, spec, encode_weights(weights), keys)
    # Warm-up round (client work tracing for the delta path), not reported.
    chain_round(client, store, learning, spec, task, keys, aggregator, shards, trainers)
    return [
        chain_round(client, store, learning, spec, task, keys, aggregator, shards, trainers)
        for _ in range(rounds)
    ]


def pipelined_rounds(
    client: ChainClient,
    store: KuboStore,
    learning: FlLearning,
    spec: Any,
    weights: Any,
    shards: list[Any],
    keys: list[Keypair],
    rounds: int,
    trainers: ProcessPoolExecutor | None,
) -> tuple[float, float]:
    """``rounds`` pipelined rounds on a new task, after one warm-up round, as the roles run
    them: the pallet opens round r+1 on round r's submitted aggregate, so the trainers train,
    commit and reveal r+1 while r's challenge window runs and a keeper finalizes r (here a
    thread of the aggregator's); r+1's aggregate follows r's finalization. Returns
    ``(seconds per round, blocks per round)``, amortized over the rounds."""
    from decentralml.core.fl import encode_weights

    task, aggregator = setup_chain(client, store, spec, encode_weights(weights), keys)
    chain_round(client, store, learning, spec, task, keys, aggregator, shards, trainers)
    dml = DecentralMl(client)
    view = LiveChain(client, aggregator)
    errors: list[BaseException] = []

    def finalize_after(index: int, submitted: int) -> None:
        try:
            while client.block_number() < submitted + 1:  # the 1-block challenge window
                time.sleep(0.05)
            dml.finalize_round(aggregator, task, index)
        except BaseException as exc:
            errors.append(exc)

    finalizer: threading.Thread | None = None
    start, first_block = time.perf_counter(), client.block_number()
    for _ in range(rounds):
        current = view.round(task)
        assert current is not None, "no round open"
        assert current.status == "Open", current
        index = current.index
        base = learning.decode(store.cat(current.base))
        jobs = [(spec, base, sh, index * 100 + i) for i, sh in enumerate(shards)]
        trained = list(trainers.map(train_one, jobs)) if trainers else [train_one(j) for j in jobs]
        payloads = [
            learning.encode(t.delta, UpdateOrigin(task, index, k.ss58_address))
            for k, t in zip(keys, trained, strict=True)
        ]
        reports = [(t.samples, t.loss, t.accuracy) for t in trained]
        commit_and_reveal(dml, store, task, index, keys, payloads, reports)
        ref = aggregate_updates(store, learning, spec, view, task, index, base, keys)
        if finalizer is not None:
            finalizer.join()
            if errors:
                raise errors[0]
        receipt = dml.submit_aggregate(aggregator, task, claim(index, ref, keys))
        finalizer = threading.Thread(target=finalize_after, args=(index, receipt.block_number))
        finalizer.start()
    assert finalizer is not None
    finalizer.join()
    if errors:
        raise errors[0]
    elapsed = time.perf_counter() - start
    return elapsed / rounds, (client.block_number() - first_block) / rounds


def rows_for(
    label: str, tff: float, measured: list[tuple[dict[str, float], int]]
) -> list[dict[str, Any]]:
    """The result rows of one work size on one sealing: medians over the measured rounds."""
    times = [t for t, _ in measured]
    phases = {k: statistics.median(t[k] for t in times) for k in times[0]}
    total = statistics.median(sum(t.values()) for t in times)
    blocks = statistics.median(b for _, b in measured)
    ratio = total / tff
    fixed = phases["chain"] + phases["upload"] + phases["aggregate"]
    return [
        result(f"{label}: chain+IPFS round total", round(total, 3), "s", None, None),
        result(f"{label}: chain+IPFS / pure TFF", round(ratio, 2), "x", "<= 1.5x", ratio <= 1.5),
        result(f"{label}: phase train", round(phases["train"], 3), "s", None, None),
        result(f"{label}: phase upload", round(phases["upload"], 3), "s", None, None),
        result(f"{label}: phase chain wait", round(phases["chain"], 3), "s", None, None),
        result(f"{label}: phase aggregate", round(phases["aggregate"], 3), "s", None, None),
        result(f"{label}: blocks per round", blocks, "blocks", None, None),
        result(
            f"{label}: local_update / pure TFF round",
            round(phases["train"] / tff, 2),
            "x",
            None,
            None,
        ),
        result(
            f"{label}: pure TFF round needed for 1.5x at this fixed cost",
            round(2 * fixed, 1),
            "s",
            None,
            None,
        ),
    ]


def pipelined_rows(
    epochs: int, demo_epochs: int, tff: float, measured: tuple[float, float]
) -> list[dict[str, Any]]:
    """Issue 17's rows: the pipelined round on Aura (2 s slots) against the pure TFF round
    (target 2x at the demo spec's work size and smaller ones, 1.2x at 60 epochs and more)."""
    seconds, blocks = measured
    ratio = seconds / tff
    name = "demo_spec" if epochs == demo_epochs else f"{epochs}_epochs"
    target = 2.0 if epochs < 60 else 1.2
    label = f"{epochs} local epochs, aura sealing, pipelined"
    return [
        result(f"{label}: round (amortized)", round(seconds, 3), "s", None, None),
        result(f"{label}: blocks per round (amortized)", round(blocks, 2), "blocks", None, None),
        result(
            f"{name}_aura_pipelined_ratio", round(ratio, 2), "x", f"<= {target}x", ratio <= target
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tff-runs", type=int, default=3)
    parser.add_argument(
        "--local-epochs",
        type=int,
        nargs="+",
        default=[2, 3, 60],
        help="work sizes to measure; 3 is the demo spec's (2 was, before issue 17)",
    )
    parser.add_argument(
        "--train-processes",
        type=int,
        default=2,
        help="trainer processes training at once (each trainer is its own process on its own "
        "machine in a federation; TFF's simulation also uses every core); 0 trains in this "
        "process one trainer after another",
    )
    parser.add_argument(
        "--sealing",
        nargs="+",
        choices=["instant", "aura"],
        default=["instant", "aura"],
        help="dev-node block production to compare (node-decentralml --sealing)",
    )
    parser.add_argument(
        "--pipelined-rounds",
        type=int,
        default=10,
        help="pipelined rounds to amortize over on the aura node (0: skip)",
    )
    args = parser.parse_args()

    from dataclasses import replace

    from decentralml.core.fl import demo_federation, initial_weights

    shards, _, demo_spec = demo_federation("digits", TRAINERS, alpha=1.0, seed=0)
    weights = initial_weights(demo_spec, seed=0)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        nodes = {
            sealing: DevNode(base_path=Path(tmp) / sealing, extra_args=["--sealing", sealing])
            for sealing in args.sealing
        }
        kubo = KuboDaemon(repo=Path(tmp) / "ipfs")
        clients: dict[str, ChainClient] = {}
        trainers = (
            ProcessPoolExecutor(args.train_processes, mp_context=get_context("spawn"))
            if args.train_processes
            else None
        )
        try:
            kubo.start()
            for sealing, node in nodes.items():
                node.start()
                clients[sealing] = ChainClient(node.ws_url)
            store = KuboStore(IpfsConfig(api_url=kubo.api_url))
            for n, epochs in enumerate(args.local_epochs):
                spec = replace(demo_spec, plan=replace(demo_spec.plan, local_epochs=epochs))
                keys = [
                    Keypair.create_from_uri(f"//BenchTrainer{n * TRAINERS + i}", ss58_format=42)
                    for i in range(TRAINERS)
                ]
                learning = FlLearning()
                learning.prepare(spec)
                try:
                    tff_times = tff_round_times(spec, weights, shards, args.tff_runs)
                    tff = statistics.median(tff_times)
                    print(f"{epochs} local epochs: pure TFF {tff:.2f} s {tff_times}", flush=True)
                    rows.append(
                        result(
                            f"{epochs} local epochs: pure TFF round (10 trainers, digits CNN)",
                            round(tff, 3),
                            "s",
                            None,
                            None,
                        )
                    )
                    for sealing, client in clients.items():
                        measured = chain_rounds(
                            client, store, learning, spec, weights, shards, keys, args.rounds,
                            trainers,
                        )  # fmt: skip
                        print(f"  {sealing}: {measured}", flush=True)
                        label = f"{epochs} local epochs, {sealing} sealing"
                        rows += rows_for(label, tff, measured)
                        if sealing == "aura" and args.pipelined_rounds:
                            # Fresh trainers: the others are still in the serial task.
                            fresh = [
                                Keypair.create_from_uri(
                                    f"//BenchPipelined{n * TRAINERS + i}", ss58_format=42
                                )
                                for i in range(TRAINERS)
                            ]
                            rows += pipelined_rows(
                                epochs,
                                demo_spec.plan.local_epochs,
                                tff,
                                pipelined_rounds(
                                    client, store, learning, spec, weights, shards, fresh,
                                    args.pipelined_rounds, trainers,
                                ),
                            )  # fmt: skip
                finally:
                    learning.shutdown()
            store.close()
        finally:
            for client in clients.values():
                client.close()
            kubo.stop()
            for node in nodes.values():
                node.stop()
            if trainers:
                trainers.shutdown()

    write(
        "fl_round_overhead",
        f"nice -n 10 .venv/bin/python bench/fl_round_overhead.py --rounds {args.rounds} "
        f"--tff-runs {args.tff_runs} --local-epochs {' '.join(map(str, args.local_epochs))} "
        f"--sealing {' '.join(args.sealing)} --train-processes {args.train_processes} "
        f"--pipelined-rounds {args.pipelined_rounds}",
        rows,
    )


if __name__ == "__main__":
    main()
