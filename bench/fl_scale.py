"""Benchmark: aggregating 1,000 updates of a 1M-parameter model (issue 5, benchmark 3).

The model is an MLP 1000 -> 1000 -> 10 (1,011,010 float32 parameters, 4.0 MB). A child process
writes `--distinct` different update files (the encoded npz an aggregator fetches from IPFS)
to a temporary directory; the aggregation then reads `--updates` updates from those files in
turn (each read from disk and decoded with full validation: manifest, shapes, dtype, finite)
through a generator, so at most one update is in memory at a time, and runs
`aggregate("fedavg")`. Timed: reading + decoding + aggregating, end to end. Memory: peak RSS
growth over the aggregation (getrusage's maxrss minus the RSS before it) and, in a second
run, tracemalloc's peak of numpy allocations, both as multiples of the model size.
`clip:<bound>` (norm clipping, also streamed) is measured the same way. So are the
spilled rules, with the robust rules' 15 s target: `bounded` (spilled for the median norm,
then read back one row at a time), `aligned` (the tasks' default: `bounded` plus a
coordinate-wise median reference and one cosine per update) and the
coordinate-wise rules `median` and `trimmed:20`: they spill each validated
update to a temporary file (updates x model size on disk) and combine in coordinate chunks of
`--chunk-mb` MB, so their memory is the chunk (twice it while the median partitions) plus a
float64 result, not updates x model size.
Targets: FedAvg <= 3 s, clip <= 10 s, median and trimmed:20 <= 15 s each (issue 17), memory a
few model sizes (the coordinate-wise rules: bounded by the chunk).

    nice -n 10 .venv/bin/python bench/fl_scale.py [--updates 1000] [--distinct 50]
        [--robust-updates 1000] [--chunk-mb 16]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from _results import result, write
from decentralml.core.fl import (
    ModelSpec,
    aggregate,
    decode_weights,
    encode_weights,
    initial_weights,
    manifest_for,
)

SPEC = ModelSpec("mlp", (1000,), 10, hidden=(1000,))
TARGET_S = 10.0  # clip (issue 5)
FEDAVG_TARGET_S = 3.0  # issue 17
ROBUST_TARGET_S = 15.0  # issue 17: median and trimmed mean


def generate(directory: Path, distinct: int) -> None:
    base = initial_weights(SPEC, 0)
    rng = np.random.default_rng(1)
    for i in range(distinct):
        delta = {
            k: (rng.standard_normal(v.shape) * 0.01).astype(np.float32) for k, v in base.items()
        }
        (directory / f"update-{i:04d}.npz").write_bytes(encode_weights(delta))


def rss_bytes() -> int:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize()


def updates(files: list[Path], count: int, manifest) -> Iterator[tuple[dict, int]]:
    for i in range(count):
        data = files[i % len(files)].read_bytes()
        yield decode_weights(data, manifest), 100 + i % 7


def run(
    rule: str, files: list[Path], count: int, *, trace: bool, chunk_bytes: int = 16 << 20
) -> tuple[float, int, int]:
    base = initial_weights(SPEC, 0)
    manifest = manifest_for(SPEC)
    before = rss_bytes()
    if trace:
        tracemalloc.start()
    t0 = time.perf_counter()
    res = aggregate(
        rule,
        base,
        updates(files, count, manifest),
        plan=SPEC.plan,
        seed=b"bench",
        chunk_bytes=chunk_bytes,
    )
    elapsed = time.perf_counter() - t0
    peak_traced = 0
    if trace:
        _, peak_traced = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    assert res.updates == count
    return elapsed, max(0, peak_rss - before), peak_traced


Target = tuple[str, bool] | None  # (what the target says, whether it was met)


def rule_rows(
    label: str,
    elapsed: float,
    updates: int,
    rss_models: float,
    traced_models: float,
    *,
    seconds: Target = None,
    rss: Target = None,
    traced: Target = None,
) -> list[dict[str, Any]]:
    """The four result rows of one aggregation rule; memory in model sizes."""

    def row(name: str, value: float, unit: str, target: Target) -> dict[str, Any]:
        text, met = target if target is not None else (None, None)
        return result(f"{label}_{name}", value, unit, text, met)

    return [
        row("seconds", round(elapsed, 2), "s", seconds),
        row("updates_per_second", round(updates / elapsed, 1), "1/s", None),
        row("peak_rss_growth", round(rss_models, 2), "model sizes", rss),
        row("tracemalloc_peak", round(traced_models, 2), "model sizes", traced),
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--updates", type=int, default=1000)
    parser.add_argument("--distinct", type=int, default=50)
    parser.add_argument("--robust-updates", type=int, default=1000)
    parser.add_argument("--chunk-mb", type=int, default=16)
    parser.add_argument("--generate-into", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate_into:
        generate(Path(args.generate_into), args.distinct)
        return
    model_bytes = manifest_for(SPEC).nbytes
    with tempfile.TemporaryDirectory(prefix="fl-scale-") as tmp:
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, __file__, "--distinct", str(args.distinct), "--generate-into", tmp],
            check=True,
        )
        gen_s = time.perf_counter() - t0
        files = sorted(Path(tmp).glob("update-*.npz"))
        print(f"{len(files)} update files of {files[0].stat().st_size} bytes in {gen_s:.1f} s")
        results = [
            result("model_parameters", manifest_for(SPEC).parameters, "float32", None, None),
            result("updates", args.updates, "count", None, None),
        ]
        # Each rule in a fresh process would isolate maxrss; fedavg runs first, so its RSS
        # growth is exact, and clip's growth is reported relative to the same baseline.
        for rule in ("fedavg", "clip:1000000"):
            elapsed, rss_growth, _ = run(rule, files, args.updates, trace=False)
            _, _, traced = run(rule, files, args.updates, trace=True)
            label = rule.split(":")[0]
            print(
                f"{rule}: {elapsed:.2f} s, RSS growth {rss_growth / model_bytes:.2f} models, "
                f"traced peak {traced / model_bytes:.2f} models"
            )
            results += rule_rows(
                label,
                elapsed,
                args.updates,
                rss_growth / model_bytes,
                traced / model_bytes,
                seconds=(
                    (f"<= {FEDAVG_TARGET_S:g}", elapsed <= FEDAVG_TARGET_S)
                    if label == "fedavg"
                    else (f"<= {TARGET_S:g}", elapsed <= TARGET_S)
                ),
                rss=("a few", rss_growth / model_bytes <= 8) if label == "fedavg" else None,
                traced=("a few", traced / model_bytes <= 8),
            )
        chunk = args.chunk_mb << 20
        results.append(result("robust_updates", args.robust_updates, "count", None, None))
        # The machine's first 4 GB spill is slower (17.4 s for a median measured here, then
        # 13.0 and 12.2 s for the same run): reported, then the timed runs below are the steady
        # state an aggregator sees round after round.
        cold, _, _ = run("median", files, args.robust_updates, trace=False, chunk_bytes=chunk)
        print(f"median, first spill on this machine: {cold:.2f} s")
        results.append(result("median_seconds_first_spill", round(cold, 2), "s", None, None))
        # The spilled rules: the coordinate-wise ones and the norm-bounded ones built on the
        # median norm (`aligned`, the tasks' default, also takes the coordinate-wise median).
        for rule in ("median", "trimmed:20", "bounded", "aligned"):
            elapsed, rss_growth, _ = run(
                rule, files, args.robust_updates, trace=False, chunk_bytes=chunk
            )
            _, _, traced = run(rule, files, args.robust_updates, trace=True, chunk_bytes=chunk)
            label = rule.split(":")[0]
            stacked = args.robust_updates  # what holding every update in memory would take
            print(
                f"{rule}: {elapsed:.2f} s, RSS growth {rss_growth / model_bytes:.2f} models, "
                f"traced peak {traced / model_bytes:.2f} models (all updates: {stacked})"
            )
            results += rule_rows(
                label,
                elapsed,
                args.robust_updates,
                rss_growth / model_bytes,
                traced / model_bytes,
                seconds=(f"<= {ROBUST_TARGET_S:g}", elapsed <= ROBUST_TARGET_S),
                traced=(
                    f"bounded (chunk {args.chunk_mb} MB), not {stacked} model sizes",
                    traced / model_bytes <= 4 * chunk / model_bytes + 8,
                ),
            )
    write(
        "fl_scale",
        f"nice -n 10 .venv/bin/python bench/fl_scale.py --updates {args.updates} "
        f"--distinct {args.distinct} --robust-updates {args.robust_updates} "
        f"--chunk-mb {args.chunk_mb}",
        results,
    )


if __name__ == "__main__":
    main()
