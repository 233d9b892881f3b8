"""Benchmark: add + read back a 50 MB weights file through the Python content store, against
Kubo's own CLI (`ipfs add` + `ipfs cat`) on the same daemon, side by side in one run.

Target (issue 4): the store costs at most 2x Kubo's CLI. The store does more work than the
CLI: it computes the sha256 and the UnixFS CID locally while streaming, in both directions,
and writes the read-back through a temporary file renamed after verification.

Each repetition uses fresh random bytes for each side (no deduplication), alternating which
side goes first; the median of the repetitions is reported.

    .venv/bin/python bench/ipfs_roundtrip.py [--size-mb 50] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from _results import result, write
from decentralml.core.config import IpfsConfig
from decentralml.core.storage.kubo import KuboStore

from tests.integration.kubo import KuboDaemon, kubo_binary


def cli_roundtrip(daemon: KuboDaemon, src: Path, dest: Path) -> float:
    binary = str(kubo_binary())
    env = daemon.env()
    started = time.perf_counter()
    cid = subprocess.run(
        [binary, "add", "-Q", "--cid-version=1", "--raw-leaves", "--chunker=size-262144", str(src)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    with dest.open("wb") as out:
        subprocess.run([binary, "cat", cid], env=env, check=True, stdout=out)
    return time.perf_counter() - started


def store_roundtrip(store: KuboStore, src: Path, dest: Path) -> float:
    started = time.perf_counter()
    stored = store.add_file(src)
    store.fetch_to(stored.ref, dest)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    size = args.size_mb * 1_000_000
    cli_times, store_times = [], []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        with KuboDaemon(repo=work / "repo") as daemon:
            daemon.start()
            store = KuboStore(IpfsConfig(api_url=daemon.api_url))
            for run in range(args.runs):
                files = {}
                for side in ("cli", "store"):
                    path = work / f"{side}-{run}.bin"
                    path.write_bytes(os.urandom(size))
                    files[side] = path
                order = ("cli", "store") if run % 2 == 0 else ("store", "cli")
                for side in order:
                    dest = work / f"{side}-{run}.out"
                    if side == "cli":
                        cli_times.append(cli_roundtrip(daemon, files[side], dest))
                    else:
                        store_times.append(store_roundtrip(store, files[side], dest))
                    assert dest.read_bytes() == files[side].read_bytes()
                    dest.unlink()
                for path in files.values():
                    path.unlink()
            store.close()
            version = daemon.version()
    cli, ours = statistics.median(cli_times), statistics.median(store_times)
    ratio = ours / cli
    write(
        "ipfs_roundtrip",
        f".venv/bin/python bench/ipfs_roundtrip.py --size-mb {args.size_mb} --runs {args.runs}"
        f"  # Kubo {version}",
        [
            result(f"kubo_cli_add_cat_{args.size_mb}MB_median", round(cli, 3), "s", None, None),
            result(f"store_add_fetch_{args.size_mb}MB_median", round(ours, 3), "s", None, None),
            result("store_over_kubo_cli_ratio", round(ratio, 2), "x", "<= 2", ratio <= 2),
            result("store_throughput", round(2 * size / ours / 1e6, 1), "MB/s", None, None),
        ],
    )


if __name__ == "__main__":
    main()
