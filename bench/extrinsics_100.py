"""Benchmark: 100 extrinsics from one account, back to back, on a real node-decentralml --dev.

Target (issue 4): all 100 succeed with no nonce error. The client signs each with the next
nonce from its NonceManager and a mortal era, sends all of them without waiting, then
checks every receipt. Reports the count, nonce errors, wall-clock and blocks spanned.

    .venv/bin/python bench/extrinsics_100.py [--count 100]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from _results import result, write
from decentralml.core.chain.client import CallSpec, ChainClient
from decentralml.core.errors import SubmissionRejected
from decentralml.core.keys import dev_keypair

from tests.integration.devnode import DevNode


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=100)
    args = parser.parse_args()
    n = args.count
    with tempfile.TemporaryDirectory() as tmp, DevNode(base_path=Path(tmp)) as node:
        node.start()
        with ChainClient(node.ws_url) as chain:
            alice = dev_keypair("//Alice", chain.chain_type())
            dest = dev_keypair("//BenchDest", chain.chain_type()).ss58_address
            start_nonce = chain.native_balance(alice.ss58_address).nonce
            calls = [
                CallSpec("Balances", "transfer_keep_alive", {"dest": dest, "value": 10**12})
            ] * n
            nonce_errors = 0
            started = time.perf_counter()
            try:
                receipts = chain.submit_many(alice, calls, check=False)
            except SubmissionRejected as exc:
                nonce_errors += 1
                raise SystemExit(f"submission rejected: {exc}") from None
            elapsed = time.perf_counter() - started
            failed = [r for r in receipts if r.find("System", "ExtrinsicFailed")]
            succeeded = len(receipts) - len(failed)
            end_nonce = chain.native_balance(alice.ss58_address).nonce
            blocks = {r.block_number for r in receipts}
            received = chain.native_balance(dest).free
    write(
        "extrinsics_100",
        f".venv/bin/python bench/extrinsics_100.py --count {n}",
        [
            result("extrinsics_succeeded", succeeded, "count", f"== {n}", succeeded == n),
            result("nonce_errors", nonce_errors, "count", "== 0", nonce_errors == 0),
            result(
                "nonce_advanced_by",
                end_nonce - start_nonce,
                "count",
                f"== {n}",
                end_nonce - start_nonce == n,
            ),
            result(
                "balance_received_matches",
                int(received == n * 10**12),
                "bool",
                "1",
                received == n * 10**12,
            ),
            result("wall_clock_submit_to_last_receipt", round(elapsed, 2), "s", None, None),
            result("blocks_spanned", len(blocks), "blocks", None, None),
        ],
    )


if __name__ == "__main__":
    main()
