"""Benchmark: federated vs centralized accuracy on sklearn digits (issue 5, benchmark 1).

Digits (1,797 8x8 images, 20 % held out) split over 10 trainers by Dirichlet(0.5) over labels
(non-IID). Each round every trainer runs `local_update` (TFF's model-delta client work, the
code the chain's trainer role runs) from the current global model and `aggregate("fedavg")`
(the aggregator role's code) makes the next global model; no chain, no IPFS. The centralized
baseline trains the same network (same initial weights, same SGD learning rate and batch
size) with Keras on the union of the trainers' data for as many passes over the data as the
federation made (rounds x local epochs). Target: the federated test accuracy after at most
30 rounds is within 2 points of the centralized one. Writes the per-round curve too.

    nice -n 10 .venv/bin/python bench/fl_quality.py [--rounds 30] [--kind cnn|mlp]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace

import numpy as np
from _results import ROOT, result, write
from decentralml.core.fl import (
    aggregate,
    demo_federation,
    evaluate,
    initial_weights,
    local_update,
    tff_client,
)
from decentralml.core.fl.models import layer_shapes

TARGET_POINTS = 2.0


def centralized(spec, weights, x, y, epochs: int, seed: int) -> dict[str, np.ndarray]:
    tf, _ = tff_client.modules()
    tf.keras.utils.set_random_seed(seed)
    model = tff_client.keras_model(spec)
    model.set_weights(list(weights.values()))
    model.compile(
        optimizer=tf.keras.optimizers.SGD(learning_rate=spec.plan.learning_rate),
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(x, y, batch_size=spec.plan.batch_size, epochs=epochs, shuffle=True, verbose=0)
    names = [n for n, _ in layer_shapes(spec)]
    return {n: v.numpy() for n, v in zip(names, model.trainable_variables, strict=True)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--trainers", type=int, default=10)
    parser.add_argument("--alpha", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kind", default="cnn")
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--epochs", type=int, default=None, help="local epochs per round")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    shards, test, spec = demo_federation(
        "digits", args.trainers, args.alpha, args.seed, kind=args.kind
    )
    plan = spec.plan
    if args.lr is not None:
        plan = replace(plan, learning_rate=args.lr)
    if args.epochs is not None:
        plan = replace(plan, local_epochs=args.epochs)
    spec = replace(spec, plan=plan)
    w0 = initial_weights(spec, args.seed)

    started = time.perf_counter()
    tff_client.client_work(spec)  # import TF/TFF and trace once, outside the per-round times
    setup_s = time.perf_counter() - started

    weights = w0
    curve = []
    round_times = []
    for rnd in range(1, args.rounds + 1):
        t0 = time.perf_counter()
        updates = [
            local_update(spec, weights, shard, seed=rnd * 1000 + i)
            for i, shard in enumerate(shards)
        ]
        weights = aggregate(
            "fedavg",
            weights,
            [(u.delta, u.samples) for u in updates],
            plan=spec.plan,
            seed=rnd.to_bytes(4, "big"),
        ).weights
        round_times.append(time.perf_counter() - t0)
        loss, acc = evaluate(spec, weights, test.x, test.y)
        curve.append({"round": rnd, "test_accuracy": round(acc, 4), "test_loss": round(loss, 4)})
        print(
            f"round {rnd:2d}: accuracy {acc:.4f} loss {loss:.4f} ({round_times[-1]:.2f} s)",
            flush=True,
        )

    x_all = np.concatenate([s.x for s in shards])
    y_all = np.concatenate([s.y for s in shards])
    passes = args.rounds * spec.plan.local_epochs
    t0 = time.perf_counter()
    central = centralized(spec, w0, x_all, y_all, passes, args.seed)
    central_s = time.perf_counter() - t0
    _, central_acc = evaluate(spec, central, test.x, test.y)
    fed_acc = curve[-1]["test_accuracy"]
    best = max(curve, key=lambda c: c["test_accuracy"])
    gap = (central_acc - fed_acc) * 100
    first_within = next(
        (c["round"] for c in curve if (central_acc - c["test_accuracy"]) * 100 <= TARGET_POINTS),
        None,
    )
    tff_client.stop_workers(restartable=False)
    print(
        f"centralized {central_acc:.4f} ({passes} epochs, {central_s:.1f} s); "
        f"federated {fed_acc:.4f} after {args.rounds} rounds; gap {gap:.2f} points"
    )
    if args.no_write:
        return
    config = (
        f"digits, {args.trainers} trainers, Dirichlet alpha {args.alpha}, {spec.kind} "
        f"hidden {list(spec.hidden)}, {spec.plan.local_epochs} local epochs, batch "
        f"{spec.plan.batch_size}, lr {spec.plan.learning_rate}, server lr "
        f"{spec.plan.server_learning_rate}, seed {args.seed}, {len(test)} test images"
    )
    results = [
        result("federated_test_accuracy_final", round(fed_acc, 4), "fraction", None, None),
        result("federated_test_accuracy_best", best["test_accuracy"], "fraction", None, None),
        result("centralized_test_accuracy", round(central_acc, 4), "fraction", None, None),
        result("accuracy_gap_final", round(gap, 2), "points", "<= 2", gap <= TARGET_POINTS),
        result(
            "accuracy_gap_mean_last_5_rounds",
            round(
                (central_acc - float(np.mean([c["test_accuracy"] for c in curve[-5:]]))) * 100, 2
            ),
            "points",
            None,
            None,
        ),
        result(
            "first_round_within_2_points",
            first_within or -1,
            "round",
            "<= 30",
            first_within is not None and first_within <= 30,
        ),
        result(
            "seconds_per_round_median", round(float(np.median(round_times)), 3), "s", None, None
        ),
        result("tf_import_and_trace", round(setup_s, 1), "s", None, None),
    ]
    command = "nice -n 10 .venv/bin/python bench/fl_quality.py " + " ".join(
        f"--{k} {v}" for k, v in (("rounds", args.rounds), ("kind", args.kind))
    )
    write("fl_quality", command, results)
    path = ROOT / "bench" / "results" / "fl_quality.json"
    out = json.loads(path.read_text())
    out["config"] = config
    out["curve"] = curve
    path.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
