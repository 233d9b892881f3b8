"""Benchmark: the same round aggregated in fresh processes gives one digest (issue 15).

A round of 20 updates of the digits CNN (real ``local_update`` deltas of the demo federation's
trainers, so their values are those of training, duplicated with small perturbations to reach
20) is written to a temporary directory; then 3 fresh Python processes aggregate it with
``OMP_NUM_THREADS`` / ``OPENBLAS_NUM_THREADS`` / ``MKL_NUM_THREADS`` = 1, 2 and unset
(the machine's default), each with every rule (``fedavg``, ``median``, ``trimmed:20``,
``clip:<bound>``), and the free-rider screening's sketches. Each process prints the sha256
of every encoded aggregate; the row is 1 when all processes print the same digests.

    nice -n 10 .venv/bin/python bench/fl_determinism.py
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from _results import result, write

RULES = ("fedavg", "median", "trimmed:20", "clip:500000")


def prepare(directory: Path) -> None:
    from decentralml.core.fl import demo_federation, encode_weights, initial_weights, local_update

    shards, _, spec = demo_federation("digits", 10, 0.5, 0)
    base = initial_weights(spec, 0)
    (directory / "spec.bin").write_bytes(spec.to_bytes())
    (directory / "base.npz").write_bytes(encode_weights(base))
    rng = np.random.default_rng(0)
    n = 0
    for i, shard in enumerate(shards):
        u = local_update(spec, base, shard, seed=i)
        for copy in range(2):
            delta = {
                k: (v * (1 + 0.01 * copy) + rng.normal(0, 1e-4, v.shape)).astype(np.float32)
                for k, v in u.delta.items()
            }
            (directory / f"u{n:02d}-{u.samples}.npz").write_bytes(encode_weights(delta))
            n += 1


def aggregate_all(directory: Path) -> dict[str, str]:
    from decentralml.core.fl import TrainingPlan, aggregate, decode_weights, encode_weights
    from decentralml.core.fl.freeriders import sketch

    base = decode_weights((directory / "base.npz").read_bytes())
    ups = [
        (decode_weights(p.read_bytes()), int(p.stem.split("-")[1]))
        for p in sorted(directory.glob("u*.npz"))
    ]
    out = {}
    for rule in RULES:
        res = aggregate(rule, base, iter(ups), plan=TrainingPlan(), seed=b"round")
        out[rule] = hashlib.sha256(encode_weights(res.weights)).hexdigest()
    sketches = np.stack([sketch(d) for d, _ in ups])
    out["sketches"] = hashlib.sha256(sketches.tobytes()).hexdigest()
    return out


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        print(json.dumps(aggregate_all(Path(sys.argv[2]))))
        return
    with tempfile.TemporaryDirectory(prefix="fl-det-") as tmp:
        directory = Path(tmp)
        prepare(directory)
        runs = {}
        for threads in ("1", "2", None):
            env = dict(os.environ)
            for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
                if threads is None:
                    env.pop(var, None)
                else:
                    env[var] = threads
            proc = subprocess.run(
                [sys.executable, __file__, "--child", str(directory)],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            runs[threads or "default"] = json.loads(proc.stdout.strip().splitlines()[-1])
    for name, digests in runs.items():
        print(name, digests)
    same = int(all(d == runs["1"] for d in runs.values()))
    write(
        "fl_determinism",
        "nice -n 10 .venv/bin/python bench/fl_determinism.py",
        [
            result(
                "aggregate_digest_identical_across_processes",
                same,
                "1 = one digest per rule over 3 processes (BLAS/OpenMP threads 1, 2, default)",
                "1",
                same == 1,
            ),
            result("updates", 20, "digits CNN deltas", None, None),
            result("rules", len(RULES), "fedavg, median, trimmed:20, clip + sketches", None, None),
        ],
    )


if __name__ == "__main__":
    main()
