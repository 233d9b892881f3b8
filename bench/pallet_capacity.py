"""Block capacity of the round protocol, on the running runtime's own weights (issue 3).

Starts its own node-decentralml --dev --sealing aura (free ports, temporary chain) and measures:

- by weight: how many ``commit_update`` and how many ``reveal_update`` extrinsics (an update
  is one of each) fit in one block under the runtime's normal dispatch limits:
  ``floor(normal.max_total / (weight(call) + base_extrinsic))`` from ``System.BlockWeights``
  and ``TransactionPaymentApi.query_info``, and the same by encoded length against the normal
  class's block length (target: at least 2,000 of each, issues 15 and 17);
- a real round with 256 trainers (the runtime's ``MaxTrainersPerTask``): 256 accounts funded,
  profiled and joined, 256 ``commit_update`` then 256 ``reveal_update`` sent at once (blocks
  they landed in), an aggregate including all 256, then ``finalize_round``: whether it lands
  in one block, its declared weight against ``normal.max_extrinsic``, its actual weight from
  ``ExtrinsicSuccess`` and the 256 reward transfers it made.

    .venv/bin/python bench/pallet_capacity.py [--trainers 256]

The weights are whatever ``pallet-decentralml/src/weights.rs`` holds in the runtime the node
embeds (regenerated with scripts/bench-weights on an optimised node).
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
from pathlib import Path
from typing import Any

from _results import result, write
from decentralml.core.chain.client import CallSpec, ChainClient
from decentralml.core.chain.commitment import update_commitment
from decentralml.core.chain.decentralml import (
    AggregateClaim,
    DecentralMl,
    TaskTerms,
    jurisdiction,
    licence,
    metrics,
)
from decentralml.core.keys import dev_keypair
from decentralml.core.types import ContentRef
from substrateinterface import Keypair

from tests.integration.devnode import DevNode

UNIT = 10**12
PALLET = "DecentralMl"
CID = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"  # 59 bytes, CIDv1 raw


def ref(n: int) -> ContentRef:
    data = f"update {n}".encode()
    return ContentRef(CID, hashlib.sha256(data).digest(), len(data))


def weight_of(value: Any) -> int:
    return int(value["ref_time"]) if isinstance(value, dict) else int(value)


SALT = bytes(32)


def commit_params(task: int, key: Keypair, n: int) -> dict[str, Any]:
    commitment = update_commitment(task, 0, key.ss58_address, ref(n), 100 + n, SALT)
    return {"task_id": task, "round": 0, "commitment": "0x" + commitment.hex()}


def reveal_params(task: int, n: int) -> dict[str, Any]:
    return {
        "task_id": task,
        "round": 0,
        "update": ref(n).to_chain(),
        "samples": 100 + n,
        "metrics": metrics(0.5, 0.5),
        "salt": "0x" + SALT.hex(),
    }


def by_weight(client: ChainClient, signer: Keypair, task: int) -> dict[str, Any]:
    """How many commit_update and reveal_update calls fit in a block, by weight and length."""
    limits = client.constant("System", "BlockWeights")
    normal = limits["per_class"]["normal"]
    base = weight_of(normal["base_extrinsic"])
    max_total = weight_of(normal["max_total"])
    block_length = int(client.constant("System", "BlockLength")["max"]["normal"])
    out: dict[str, Any] = {
        "max_block": weight_of(limits["max_block"]),
        "normal_max_total": max_total,
        "normal_max_extrinsic": weight_of(normal["max_extrinsic"]),
        "base_extrinsic": base,
    }
    # The cost every signed extrinsic pays whatever its call: an empty remark's weight (its
    # call weighs next to nothing; the rest is the transaction extensions': nonce, fee, ...).
    remark = client.compose("System", "remark", {"remark": "0x"})
    out["signed_extrinsic_floor"] = client.estimate_fee(signer, remark).weight["ref_time"]
    for name, params in (
        ("commit_update", commit_params(task, signer, 0)),
        ("reveal_update", reveal_params(task, 0)),
    ):
        call = client.compose(PALLET, name, params)
        weight = client.estimate_fee(signer, call).weight["ref_time"]
        signed = client.substrate.create_signed_extrinsic(
            call=call, keypair=signer, era={"period": client.era_period}, nonce=0
        )
        length = len(bytes.fromhex(str(signed.data)[2:]))
        out[name] = {
            "weight": weight,
            "fit_by_weight": max_total // (weight + base),
            "length": length,
            "fit_by_length": block_length // length,
        }
    return out


def round_of(client: ChainClient, n: int) -> dict[str, Any]:
    dml = DecentralMl(client)
    chain_type = client.chain_type()
    alice = dev_keypair("//Alice", chain_type)
    bob = dev_keypair("//Bob", chain_type)
    keys = [Keypair.create_from_uri(f"//CapacityTrainer{i}", ss58_format=42) for i in range(n)]
    started = time.perf_counter()
    client.submit_many(
        alice,
        [
            CallSpec(
                "Balances", "transfer_keep_alive", {"dest": k.ss58_address, "value": 10 * UNIT}
            )
            for k in keys
        ],
    )
    model, _ = dml.register_model(alice, "capacity", ref(1), ref(2), licence=licence("MIT"))
    terms = TaskTerms(
        reward_per_round=n * UNIT,
        total_rounds=2,
        min_trainers=n,
        max_trainers=n,
        trainer_stake=UNIT,
        round_length=200,
        challenge_window=1,
        aggregation="fedavg",
    )
    task, _ = dml.create_task(alice, model, terms)
    code = {"jurisdiction": jurisdiction("DE")}
    client.submit_from_many([(k, CallSpec(PALLET, "set_trainer_profile", code)) for k in keys])
    client.submit_from_many([(k, CallSpec(PALLET, "join_task", {"task_id": task})) for k in keys])
    dml.task_call(bob, "bond_aggregator", task)
    dml.task_call(bob, "start_round", task)
    setup_s = time.perf_counter() - started

    capacity = by_weight(client, keys[0], task)

    started = time.perf_counter()
    commits = client.submit_from_many(
        [
            (k, CallSpec(PALLET, "commit_update", commit_params(task, k, i)))
            for i, k in enumerate(keys)
        ]
    )
    # Every trainer committed: the reveal window is open at once.
    reveals = client.submit_from_many(
        [(k, CallSpec(PALLET, "reveal_update", reveal_params(task, i))) for i, k in enumerate(keys)]
    )
    updates_s = time.perf_counter() - started
    blocks = sorted({r.block_number for r in (*commits, *reveals)})
    per_block = [sum(1 for r in (*commits, *reveals) if r.block_number == b) for b in blocks]

    aggregate = dml.submit_aggregate(
        bob, task, AggregateClaim(0, ref(10**6), tuple(k.ss58_address for k in keys), 0.4, 0.6)
    )
    while client.block_number() <= aggregate.block_number + 1:
        time.sleep(0.2)
    declared = client.estimate_fee(
        bob, client.compose(PALLET, "finalize_round", {"task_id": task, "round": 0})
    ).weight["ref_time"]
    final = dml.finalize_round(bob, task, 0)
    actual = None
    paid = 0
    trainers = {k.ss58_address for k in keys}
    for event in final.events:
        if event.pallet == "System" and event.name == "ExtrinsicSuccess":
            actual = weight_of(event.attributes["dispatch_info"]["weight"])
        if event.pallet == PALLET and event.name == "RewardPaid":
            paid += event.attributes["account"] in trainers
    return {
        **capacity,
        "setup_s": setup_s,
        "updates_s": updates_s,
        "update_blocks": len(blocks),
        "updates_per_block": per_block,
        "finalize_declared": declared,
        "finalize_actual": actual,
        "finalize_blocks": 1,  # one extrinsic: one block, or it would not have a receipt
        "rewards_paid": paid,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trainers", type=int, default=256)
    args = parser.parse_args()
    # Aura slots, as on a real network: with instant sealing nearly every extrinsic gets its own
    # block, and 256 reveals would outlast the dev preset's 20-block reveal window.
    with tempfile.TemporaryDirectory(prefix="dml-capacity-") as tmp:
        node = DevNode(base_path=Path(tmp), extra_args=["--sealing", "aura"])
        node.start()
        try:
            client = ChainClient(node.ws_url)
            try:
                data = round_of(client, args.trainers)
            finally:
                client.close()
        finally:
            node.stop()
    print(data, flush=True)
    ms = 1e9  # ref_time picoseconds per millisecond
    n = args.trainers
    commit, reveal = data["commit_update"], data["reveal_update"]
    # One update now costs a commit and a reveal; the per-update row counts the dearer call.
    per_update = min(commit["fit_by_weight"], reveal["fit_by_weight"])
    rows = []
    for name, info in (("commit_update", commit), ("reveal_update", reveal)):
        rows += [
            result(
                f"{name} per block by weight",
                info["fit_by_weight"],
                "extrinsics",
                ">= 2000",
                info["fit_by_weight"] >= 2000,
            ),
            result(f"{name} per block by length", info["fit_by_length"], "extrinsics", None, None),
            result(f"{name} weight", round(info["weight"] / ms, 4), "ms", None, None),
            result(f"{name} encoded length", info["length"], "bytes", None, None),
        ]
    write(
        "pallet_capacity",
        f".venv/bin/python bench/pallet_capacity.py --trainers {n}",
        [
            result(
                "submit_update per block by weight",
                per_update,
                "extrinsics (the dearer of commit_update and reveal_update)",
                ">= 2000",
                per_update >= 2000,
            ),
            *rows,
            result(
                "base extrinsic weight", round(data["base_extrinsic"] / ms, 4), "ms", None, None
            ),
            result(
                "empty System.remark weight (transaction extensions' floor)",
                round(data["signed_extrinsic_floor"] / ms, 4),
                "ms",
                None,
                None,
            ),
            result(
                "signed extrinsics per block at that floor (any call)",
                data["normal_max_total"]
                // (data["signed_extrinsic_floor"] + data["base_extrinsic"]),
                "extrinsics",
                None,
                None,
            ),
            result(
                "normal class max_total", round(data["normal_max_total"] / ms, 1), "ms", None, None
            ),
            result(
                f"finalize_round with {n} updates: declared weight / normal max_extrinsic",
                round(data["finalize_declared"] / data["normal_max_extrinsic"], 4),
                "ratio",
                "<= 1 (one block)",
                data["finalize_declared"] <= data["normal_max_extrinsic"]
                and data["rewards_paid"] == n,
            ),
            result(
                f"finalize_round with {n} updates: declared weight",
                round(data["finalize_declared"] / ms, 3),
                "ms",
                None,
                None,
            ),
            result(
                f"finalize_round with {n} updates: actual weight",
                round((data["finalize_actual"] or 0) / ms, 3),
                "ms",
                None,
                None,
            ),
            result(
                f"finalize_round with {n} updates: trainers paid",
                data["rewards_paid"],
                "transfers",
                None,
                None,
            ),
            result(
                f"{n} commit_update then {n} reveal_update sent at once: blocks to include (debug node's authoring time, not weight)",
                data["update_blocks"],
                "blocks",
                None,
                None,
            ),
            result(
                f"{n} commit_update then {n} reveal_update sent at once: wall time",
                round(data["updates_s"], 1),
                "s",
                None,
                None,
            ),
        ],
    )


if __name__ == "__main__":
    main()
