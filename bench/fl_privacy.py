"""Benchmark: privacy a sponsor can sign off (issue 18): DP-SGD and secure aggregation.

Rows (targets from the issue):

- ``dpsgd_epsilon`` (<= 8) and ``dpsgd_accuracy_drop_points`` (<= 5): digits over 10 trainers
  (Dirichlet 0.5), each trainer running example-level DP-SGD (``fl/dpsgd.py``: Poisson sampling
  at rate 0.2, per-example clipping at 1.0, noise multiplier 1.5, one local epoch a round) for as
  many rounds as fit in epsilon 8 at delta 1e-5 by the RDP accountant (``rounds_within``), against
  the same federation, model and rounds without DP (TFF's client work, the demo plan's SGD).
  The model is softmax regression on the 64 pixels (an MLP without hidden layers): noise per
  step is the same on every coordinate, so DP-SGD pays least on the smallest model (the demo
  CNN loses about 14 points at this epsilon, see bench/README.md). Accuracy is the held-out
  test accuracy averaged over the last 5 rounds; both runs' figures are reported.
- ``secagg_accuracy_drop_points`` (<= 0.5): the demo CNN under the clip rule (norm-bounded
  FedAvg, bound 1.0), 20 rounds, with every update masked, Shamir-shared and unmasked
  (``fl/secagg``) against the same run aggregated in the clear with ``clip:1000000``.
- ``secagg_aggregate_seconds_100x1M`` (<= 10): unmasking 100 masked updates of 1,000,000
  parameters (no dropout): decode, sum, rebuild 100 self-mask seeds from 67 shares each, remove
  their masks, check the bound. The masking itself (each trainer's) is not timed here.
- ``secagg_round_seconds_ratio`` (<= 1.5), ``secagg_dropout_recovered`` (1) and
  ``secagg_verifier_digest_match`` (1): 10 trainers, an aggregator and a verifier, each its
  own ``decentralml train|aggregate|verify`` process (as on their own hosts), against a fresh
  ``node-decentralml --dev`` and Kubo, on two tasks one after the other in the same run: the
  clip rule in the clear and the same with secure aggregation (6-block challenge windows). A round's time is the interval between two aggregates
  submitted (steady state, median). In the masked task's last round 3 of the 10 trainers stop
  right after revealing (before publishing shares): the aggregate must still include all 10,
  equal the clip-rule FedAvg of the 10 deltas (recomputed here, training being deterministic)
  to within the fixed-point step, and the verifier's recomputed digest must match.

    nice -n 10 .venv/bin/python bench/fl_privacy.py [--skip-chain] [--seeds 0]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from typing import Any

import numpy as np
from _results import result, write
from decentralml.core.fl import aggregate, demo_federation, evaluate, initial_weights, local_update
from decentralml.core.fl.accounting import Spend, dpsgd_epsilon, rounds_within
from decentralml.core.fl.aggregate import server_step
from decentralml.core.fl.secagg import (
    TrainerSecret,
    decode_masked,
    key_document,
    mask_update,
    masking_set,
    scale_bits,
    share_document,
    unmask,
)
from decentralml.core.fl.spec import DPSGDConfig

TRAINERS = 10
LAST = 5
EPSILON, DELTA = 8.0, 1e-5
DP = DPSGDConfig(clip=1.0, noise_multiplier=1.5, sampling_rate=0.2)
DP_LR, DP_MOMENTUM = 1.0, 0.7
CLIP = 1.0
CLIP_RULE = "clip:1000000"


# ---- DP-SGD --------------------------------------------------------------------------------------
def federate(spec: Any, shards: list[Any], test: Any, rounds: int, seed: int, rule: str) -> float:
    """Last-``LAST`` mean test accuracy of ``rounds`` rounds of local_update + aggregate."""
    weights = initial_weights(spec, seed)
    previous = None
    curve = []
    for rnd in range(1, rounds + 1):
        ups = []
        for i, shard in enumerate(shards):
            seed_i = seed * 100_000 + rnd * 1000 + i
            u = local_update(spec, weights, shard, seed=seed_i, noise_seed=seed_i + 7919)
            ups.append((u.delta, u.samples))
        res = aggregate(
            rule, weights, ups, plan=spec.plan, seed=rnd.to_bytes(4, "big"), previous=previous
        )
        previous, weights = weights, res.weights
        curve.append(evaluate(spec, weights, test.x, test.y)[1])
    return sum(curve[-LAST:]) / len(curve[-LAST:])


def dpsgd_rows(seeds: list[int]) -> list[dict[str, Any]]:
    rows = []
    rounds = rounds_within(DP, 1, DELTA, EPSILON)
    epsilon = dpsgd_epsilon([Spend.of(r, DP, 1) for r in range(rounds)], DELTA)
    drops = []
    for seed in seeds:
        shards, test, spec = demo_federation("digits", TRAINERS, 0.5, seed, kind="mlp")
        spec = replace(spec, hidden=(), plan=replace(spec.plan, local_epochs=1))
        plain = federate(spec, shards, test, rounds, seed, "fedavg")
        private = replace(
            spec,
            plan=replace(spec.plan, dp_sgd=DP, learning_rate=DP_LR, server_momentum=DP_MOMENTUM),
        )
        noisy = federate(private, shards, test, rounds, seed, "fedavg")
        drop = round((plain - noisy) * 100, 2)
        drops.append(drop)
        print(f"DP-SGD seed {seed}: {rounds} rounds, {plain:.4f} -> {noisy:.4f}", flush=True)
        rows += [
            result(f"dpsgd_seed{seed}_accuracy", round(noisy, 4), "fraction", None, None),
            result(f"nodp_seed{seed}_accuracy", round(plain, 4), "fraction", None, None),
        ]
    rows.insert(
        0,
        result(
            "dpsgd_epsilon",
            round(epsilon, 3),
            f"epsilon at delta {DELTA:g} per trainer over {rounds} rounds (RDP)",
            f"<= {EPSILON:g}",
            epsilon <= EPSILON,
        ),
    )
    worst = max(drops)
    rows.insert(
        1,
        result(
            "dpsgd_accuracy_drop_points",
            worst,
            "points (last-5 mean, worst seed, vs the same run without DP)",
            "<= 5",
            worst <= 5,
        ),
    )
    return rows


# ---- secure aggregation, in the library -----------------------------------------------------------
def secure_round(
    task: int,
    rnd: int,
    secrets_: dict[str, TrainerSecret],
    updates: list[tuple[dict[str, Any], int]],
    bits: int,
    drop: int = 0,
) -> tuple[dict[str, Any], int]:
    """Mask ``updates``, have all but the first ``drop`` members publish shares, unmask:
    ``(mean delta, total weight)``."""
    names = sorted(secrets_)
    docs = {n: key_document(secrets_[n], task, n, rnd, 1) for n in names}
    keys, _ = masking_set(names, docs, task, rnd)
    layout = tuple((k, tuple(v.shape)) for k, v in updates[0][0].items())
    masked = {
        n: decode_masked(
            mask_update(
                secrets_[n],
                task=task,
                round_index=rnd,
                trainer=n,
                keys=keys,
                delta=d,
                samples=s,
                clip=CLIP,
                bits=bits,
            ).encode(),
            task=task,
            round_index=rnd,
            trainer=n,
            members=names,
            bits=bits,
            layout=layout,
        )
        for n, (d, s) in zip(names, updates, strict=True)
    }
    documents = {
        h: share_document(
            secrets_[h], task=task, round_index=rnd, holder=h, keys=keys, submitted=masked
        )
        for h in names[drop:]
    }
    result_ = unmask(
        task=task,
        round_index=rnd,
        members=names,
        submitted=masked,
        share_documents=documents,
        clip=CLIP,
    )
    return result_.mean(), result_.weight


def secagg_accuracy_rows(seed: int, rounds: int) -> list[dict[str, Any]]:
    shards, test, spec = demo_federation("digits", TRAINERS, 0.5, seed)
    spec = replace(spec, plan=replace(spec.plan, server_momentum=0.0))
    secrets_ = {f"trainer-{i:02d}": TrainerSecret.generate() for i in range(TRAINERS)}
    bits = scale_bits(TRAINERS, CLIP)
    curves: dict[str, list[float]] = {"plain": [], "masked": []}
    for kind in curves:
        weights = initial_weights(spec, seed)
        for rnd in range(1, rounds + 1):
            ups = []
            for i, shard in enumerate(shards):
                u = local_update(spec, weights, shard, seed=seed * 100_000 + rnd * 1000 + i)
                ups.append((u.delta, u.samples))
            if kind == "plain":
                res = aggregate(CLIP_RULE, weights, ups, plan=spec.plan, seed=b"\0")
                weights = res.weights
            else:
                mean, _ = secure_round(7, rnd, secrets_, ups, bits)
                weights = server_step(weights, mean, spec.plan)
            curves[kind].append(evaluate(spec, weights, test.x, test.y)[1])
    plain = sum(curves["plain"][-LAST:]) / LAST
    masked = sum(curves["masked"][-LAST:]) / LAST
    drop = round((plain - masked) * 100, 2)
    print(f"secure aggregation: {plain:.4f} in the clear, {masked:.4f} masked", flush=True)
    return [
        result(
            "secagg_accuracy_drop_points",
            drop,
            f"points (last-5 mean of {rounds} rounds, vs {CLIP_RULE} in the clear)",
            "<= 0.5",
            drop <= 0.5,
        ),
        result("secagg_plain_accuracy", round(plain, 4), "fraction", None, None),
        result("secagg_masked_accuracy", round(masked, 4), "fraction", None, None),
    ]


def unmask_seconds(trainers: int, params: int) -> float:
    """Seconds to unmask ``trainers`` masked updates of ``params`` parameters."""
    rng = np.random.default_rng(0)
    names = [f"trainer-{i:03d}" for i in range(trainers)]
    secrets_ = {n: TrainerSecret.generate() for n in names}
    docs = {n: key_document(secrets_[n], 1, n, 0, 1) for n in names}
    keys, _ = masking_set(names, docs, 1, 0)
    bits = scale_bits(trainers, CLIP)
    layout = (("w", (params,)),)
    started = time.perf_counter()
    encoded = {}
    for n in names:
        delta = {"w": (rng.standard_normal(params) * (0.5 / np.sqrt(params))).astype(np.float32)}
        encoded[n] = mask_update(
            secrets_[n],
            task=1,
            round_index=0,
            trainer=n,
            keys=keys,
            delta=delta,
            samples=100,
            clip=CLIP,
            bits=bits,
        ).encode()
    print(f"masked {trainers} x {params} in {time.perf_counter() - started:.1f} s", flush=True)
    headers = {
        n: decode_masked(
            data, task=1, round_index=0, trainer=n, members=names, bits=bits, layout=layout
        )
        for n, data in encoded.items()
    }
    documents = {
        h: share_document(
            secrets_[h], task=1, round_index=0, holder=h, keys=keys, submitted=headers
        )
        for h in names
    }
    started = time.perf_counter()
    submitted = {
        n: decode_masked(
            data, task=1, round_index=0, trainer=n, members=names, bits=bits, layout=layout
        )
        for n, data in encoded.items()
    }
    unmask(
        task=1,
        round_index=0,
        members=names,
        submitted=submitted,
        share_documents=documents,
        clip=CLIP,
    )
    return time.perf_counter() - started


# ---- secure aggregation through the chain and IPFS -------------------------------------------------
def chain_scenario(trainers: int = TRAINERS, rounds: int = 3, dropouts: int = 3) -> dict[str, Any]:
    """The two tasks on a fresh node and Kubo; see the module doc. Also the e2e test's."""
    from fl_privacy_chain import run_chain_scenario

    return run_chain_scenario(trainers=trainers, rounds=rounds, dropouts=dropouts)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", default="0", help="DP-SGD seeds (the worst drop is the row)")
    parser.add_argument("--secagg-rounds", type=int, default=20)
    parser.add_argument("--unmask-trainers", type=int, default=100)
    parser.add_argument("--unmask-params", type=int, default=1_000_000)
    parser.add_argument("--chain-rounds", type=int, default=3)
    parser.add_argument("--skip-chain", action="store_true")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = dpsgd_rows(seeds)
    rows += secagg_accuracy_rows(seeds[0], args.secagg_rounds)
    seconds = unmask_seconds(args.unmask_trainers, args.unmask_params)
    rows.append(
        result(
            "secagg_aggregate_seconds_100x1M",
            round(seconds, 2),
            f"s to unmask {args.unmask_trainers} updates of {args.unmask_params} parameters",
            "<= 10",
            seconds <= 10,
        )
    )
    if not args.skip_chain:
        got = chain_scenario(rounds=args.chain_rounds)
        ratio = got["masked_round_s"] / got["plain_round_s"]
        rows += [
            result(
                "secagg_round_seconds_ratio",
                round(ratio, 3),
                f"x ({got['masked_round_s']:.2f} s masked vs {got['plain_round_s']:.2f} s in "
                f"the clear, {TRAINERS} trainers, median round)",
                "<= 1.5",
                ratio <= 1.5,
            ),
            result(
                "secagg_dropout_recovered",
                int(got["dropout_recovered"]),
                f"1 if the round with {got['dropouts']} trainers gone after submitting "
                "unmasked to the clip-rule FedAvg of all 10",
                "1",
                bool(got["dropout_recovered"]),
            ),
            result(
                "secagg_verifier_digest_match",
                int(got["verifier_match"]),
                "1 if the verifier's recomputed aggregate digest matched every round",
                "1",
                bool(got["verifier_match"]),
            ),
        ]
    command = "nice -n 10 .venv/bin/python bench/fl_privacy.py"
    if args.seeds != "0":
        command += f" --seeds {args.seeds}"
    write("fl_privacy", command, rows)
    for row in rows:
        print(f"{row['name']:40s} {row['value']!s:>10} {row['unit']}")


if __name__ == "__main__":
    main()
