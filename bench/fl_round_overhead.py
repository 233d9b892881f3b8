"""Benchmark: one federated round through the chain and IPFS against a pure TFF simulation
round of the same work, 10 trainers.

Target (issue 5): the chain + IPFS round costs at most 1.5x the pure TFF round.

Same work on both sides: sklearn digits (demo federation, 10 trainers, Dirichlet 1.0), the
demo spec (small CNN, 2 local epochs, batch 16), clients trained one after another in one
process on this machine (which is what TFF's simulation does too).

- Pure TFF: ``tff.learning.algorithms.build_weighted_fed_avg`` built and traced once, then
  ``process.next`` over the 10 clients' datasets is timed (steady state, median of runs).
- Chain + IPFS, with the roles' own code paths, per round:
  * train: ``fl.train.local_update`` for each trainer (TFF model-delta client work);
  * upload: encode each delta and add it to Kubo (``KuboStore``, CID and sha256 checked);
  * chain wait: the 10 ``submit_update`` extrinsics sent at once (one thread per trainer) until
    all are included, ``submit_aggregate`` until included, then ``finalize_round`` as soon as
    the challenge window (1 block) allows, until included (it opens the next round);
  * aggregate: fetch the 10 updates from Kubo (verified), decode against the base, FedAvg
    (``fl.aggregate``), encode and upload the result (``roles.combine``).
  Reported per phase, median over the rounds.

The chain's part is a fixed number of blocks per round, so the ratio depends on how much
training a round holds: it is measured at several work sizes (``--local-epochs``; 2 is the
demo spec's, the rest of the spec unchanged), each with its own model and task on one node.

    nice -n 10 .venv/bin/python bench/fl_round_overhead.py [--rounds 3] [--tff-runs 3]
        [--local-epochs 2 20]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from _results import result, write
from decentralml.core.chain.client import CallSpec, ChainClient
from decentralml.core.chain.decentralml import DecentralMl, TaskTerms, licence
from decentralml.core.config import IpfsConfig
from decentralml.core.keys import dev_keypair
from decentralml.core.roles.chainview import LiveChain, UpdateView
from decentralml.core.roles.combine import check_update, combine
from decentralml.core.roles.learning import FlLearning
from decentralml.core.storage.kubo import KuboStore
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
    client: ChainClient, store: KuboStore, spec: Any, initial: bytes, keys: list[Keypair]
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
        challenge_window=1,
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


def chain_round(
    client: ChainClient,
    store: KuboStore,
    learning: FlLearning,
    spec: Any,
    task: int,
    keys: list[Keypair],
    aggregator: Keypair,
    shards: list[Any],
) -> dict[str, float]:
    from decentralml.core.fl.train import local_update

    dml = DecentralMl(client)
    agg_view = LiveChain(client, aggregator)
    current = agg_view.round(task)
    assert current is not None, "no round open"
    assert current.status == "Open", current
    index = current.index
    times = {"train": 0.0, "upload": 0.0, "chain": 0.0, "aggregate": 0.0}

    started = time.perf_counter()
    base = learning.decode(store.cat(current.base))
    trained = [local_update(spec, base, s, seed=index * 100 + i) for i, s in enumerate(shards)]
    times["train"] = time.perf_counter() - started

    started = time.perf_counter()
    refs = [store.add_bytes(learning.encode(t.delta)).ref for t in trained]
    times["upload"] = time.perf_counter() - started

    started = time.perf_counter()
    run_all(
        [
            lambda k=k, r=r, t=t: dml.submit_update(
                k, task, index, r, t.samples, t.loss, t.accuracy
            )
            for k, r, t in zip(keys, refs, trained, strict=True)
        ]
    )
    times["chain"] += time.perf_counter() - started

    started = time.perf_counter()
    updates: dict[str, UpdateView] = agg_view.updates(task)
    participants = agg_view.participants(task)
    base = learning.decode(store.cat(current.base))
    checked = []
    for key in keys:
        found = check_update(store, learning, base, updates[key.ss58_address], index, participants)
        assert not hasattr(found, "reason"), found
        checked.append(found)
    _, payload = combine(
        learning,
        spec,
        "fedavg",
        base,
        checked,
        task=task,
        round_index=index,  # type: ignore[arg-type]
    )
    ref = store.add_bytes(payload).ref
    times["aggregate"] = time.perf_counter() - started

    started = time.perf_counter()
    receipt = dml.submit_aggregate(
        aggregator, task, index, ref, [k.ss58_address for k in keys], 0.5, 0.5
    )
    while client.block_number() + 1 <= receipt.block_number + 1:
        time.sleep(0.1)
    dml.finalize_round(aggregator, task, index)
    times["chain"] += time.perf_counter() - started
    return times


def measure(
    client: ChainClient,
    store: KuboStore,
    spec: Any,
    weights: Any,
    shards: list[Any],
    keys: list[Keypair],
    rounds: int,
    tff_runs: int,
) -> dict[str, Any]:
    """One work size: the pure TFF round and ``rounds`` chain rounds of the same spec."""
    from decentralml.core.fl import encode_weights

    learning = FlLearning()
    learning.prepare(spec)
    try:
        tff_times = tff_round_times(spec, weights, shards, tff_runs)
        task, aggregator = setup_chain(client, store, spec, encode_weights(weights), keys)
        # Warm-up round (client work tracing for the delta path), not reported.
        chain_round(client, store, learning, spec, task, keys, aggregator, shards)
        measured = [
            chain_round(client, store, learning, spec, task, keys, aggregator, shards)
            for _ in range(rounds)
        ]
    finally:
        learning.shutdown()
    tff = statistics.median(tff_times)
    phases = {k: statistics.median(r[k] for r in measured) for k in measured[0]}
    total = statistics.median(sum(r.values()) for r in measured)
    print(
        f"local epochs {spec.plan.local_epochs}: pure TFF {tff:.2f} s {[round(t, 2) for t in tff_times]}, "
        f"chain round {total:.2f} s {[{k: round(v, 2) for k, v in r.items()} for r in measured]}",
        flush=True,
    )
    return {"tff": tff, "total": total, "phases": phases}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tff-runs", type=int, default=3)
    parser.add_argument(
        "--local-epochs",
        type=int,
        nargs="+",
        default=[2, 20],
        help="work sizes to measure; 2 is the demo spec's, the first one is the headline",
    )
    args = parser.parse_args()

    from dataclasses import replace

    from decentralml.core.fl import demo_federation, initial_weights

    shards, _, demo_spec = demo_federation("digits", TRAINERS, alpha=1.0, seed=0)
    weights = initial_weights(demo_spec, seed=0)
    keys_made = 0
    sizes: dict[int, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        node = DevNode(base_path=Path(tmp) / "node")
        kubo = KuboDaemon(repo=Path(tmp) / "ipfs")
        node.start()
        kubo.start()
        try:
            client = ChainClient(node.ws_url)
            store = KuboStore(IpfsConfig(api_url=kubo.api_url))
            for epochs in args.local_epochs:
                spec = replace(demo_spec, plan=replace(demo_spec.plan, local_epochs=epochs))
                keys = [
                    Keypair.create_from_uri(f"//BenchTrainer{keys_made + i}", ss58_format=42)
                    for i in range(TRAINERS)
                ]
                keys_made += TRAINERS
                sizes[epochs] = measure(
                    client, store, spec, weights, shards, keys, args.rounds, args.tff_runs
                )
            store.close()
            client.close()
        finally:
            kubo.stop()
            node.stop()

    rows = []
    for epochs, m in sizes.items():
        tff, total, phases = m["tff"], m["total"], m["phases"]
        ratio = total / tff
        fixed = phases["chain"] + phases["upload"] + phases["aggregate"]
        label = f"{epochs} local epochs"
        rows += [
            result(
                f"{label}: pure TFF round (10 trainers, digits CNN)", round(tff, 3), "s", None, None
            ),
            result(f"{label}: chain+IPFS round total", round(total, 3), "s", None, None),
            result(
                f"{label}: chain+IPFS / pure TFF", round(ratio, 2), "x", "<= 1.5x", ratio <= 1.5
            ),
            result(f"{label}: phase train", round(phases["train"], 3), "s", None, None),
            result(f"{label}: phase upload", round(phases["upload"], 3), "s", None, None),
            result(f"{label}: phase chain wait", round(phases["chain"], 3), "s", None, None),
            result(f"{label}: phase aggregate", round(phases["aggregate"], 3), "s", None, None),
            result(
                f"{label}: chain wait in 2 s blocks",
                round(phases["chain"] / 2.0, 1),
                "blocks",
                None,
                None,
            ),
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
    epochs_arg = " ".join(str(e) for e in args.local_epochs)
    write(
        "fl_round_overhead",
        f"nice -n 10 .venv/bin/python bench/fl_round_overhead.py --rounds {args.rounds} "
        f"--tff-runs {args.tff_runs} --local-epochs {epochs_arg}",
        rows,
    )


if __name__ == "__main__":
    main()
