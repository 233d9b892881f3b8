"""Benchmark: free riders through the real chain and Kubo (issue 15).

A dev node (instant sealing), a Kubo daemon, the digits demo federation (10 trainers,
Dirichlet 0.5) and a task paying 10 units per round. Round 0 is honest: every trainer trains
(``fl.train.local_update``) and goes through commit-reveal. In round 1 four trainers ride free:

- trainers 0 and 1 copy a rival's revealed round-0 update (trainers 5 and 6), re-encoded under
  their own name (a fresh origin, so the bytes differ from the rival's);
- trainer 2 sends a zero delta (the base model back);
- trainer 3 sends base + Gaussian noise (noise of the honest updates' median norm);
the other six train honestly. Each update is committed, uploaded in the reveal window and
revealed on chain; the aggregator code path (``roles.combine``: fetch and verify each update
from Kubo, check it, screen free riders with the previous round's sketches, combine) builds
the aggregate, which is submitted and finalized on chain. Measured from the chain's
``RewardPaid`` events of round 1 and the screening's flags:

- ``free_rider_reward_share``: what the four were paid / the round's reward (target 0);
- ``honest_flagged``: honest updates flagged in either round (target 0);
- ``copy_detected_before_payout``: 1 when all four were flagged before the round was
  finalized (target 1).

Two bonded verifiers (Charlie and Dave) report each provable free rider (the copies, with the
copied update as evidence, and the zero delta, with the base) on chain before the payout and
attest the aggregate; at the chain's threshold of 2 the reports are confirmed without a vote:

- ``provable_free_riders_slashed_on_chain``: of the three, how many the chain slashed
  (``StakeSlashed`` at finalization; target 3). The noise sender is excluded and unpaid, not
  slashed: noise is judged against the other updates, not proven by two references.

    nice -n 10 .venv/bin/python bench/fl_free_riders.py [--seed 0]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _results import result, write
from decentralml.core.chain.client import ChainClient
from decentralml.core.chain.decentralml import AggregateClaim, DecentralMl
from decentralml.core.config import IpfsConfig
from decentralml.core.fl.freeriders import update_norm
from decentralml.core.fl.weights import UpdateOrigin
from decentralml.core.keys import dev_keypair
from decentralml.core.roles.chainview import LiveChain
from decentralml.core.roles.combine import (
    check_update,
    combine,
    order_updates,
    previous_base,
    reported_metrics,
    screen_free_riders,
)
from decentralml.core.roles.learning import FlLearning
from decentralml.core.storage.kubo import KuboStore
from fl_round_overhead import TRAINERS, commit_and_reveal, setup_chain
from substrateinterface import Keypair

from tests.integration.devnode import DevNode
from tests.integration.kubo import KuboDaemon

COPIERS = {0: 5, 1: 6}  # copier -> the rival whose revealed round-0 update it re-sends
ZERO, NOISE = 2, 3
RIDERS = {*COPIERS, ZERO, NOISE}
WINDOW = 4  # challenge window (blocks): room for both verifiers' attestations


def one_round(
    client: ChainClient,
    store: KuboStore,
    learning: FlLearning,
    spec: Any,
    task: int,
    keys: list[Keypair],
    aggregator: Keypair,
    shards: list[Any],
    previous: Any,
    rival_updates: dict[int, Any] | None,
    seed: int,
    verifiers: list[Keypair],
) -> dict[str, Any]:
    """One round through commit-reveal, screening, aggregation and payout."""
    from decentralml.core.fl.train import local_update

    dml = DecentralMl(client)
    view = LiveChain(client, aggregator)
    current = view.round(task)
    assert current is not None, "no round open"
    assert current.status == "Open", current
    index = current.index
    base = learning.decode(store.cat(current.base))
    deltas: list[Any] = []
    samples: list[int] = []
    for i, shard in enumerate(shards):
        trained = local_update(spec, base, shard, seed=seed * 10_000 + index * 100 + i)
        deltas.append(trained.delta)
        samples.append(int(trained.samples))
    if rival_updates is not None:  # round 1: the free riders replace their work
        rng = np.random.default_rng(seed)
        norms = [update_norm(d) for d in deltas]
        median = float(np.median(norms))
        size = sum(v.size for v in deltas[0].values())
        for copier, rival in COPIERS.items():
            deltas[copier] = rival_updates[rival]
        deltas[ZERO] = {k: np.zeros_like(v) for k, v in deltas[ZERO].items()}
        deltas[NOISE] = {
            k: (rng.standard_normal(v.shape) * median / np.sqrt(size)).astype(np.float32)
            for k, v in deltas[NOISE].items()
        }
    payloads = [
        learning.encode(d, UpdateOrigin(task, index, k.ss58_address))
        for d, k in zip(deltas, keys, strict=True)
    ]
    commit_and_reveal(dml, store, task, index, keys, payloads, [(n, 0.5, 0.5) for n in samples])
    # The aggregator's code path.
    participants = view.participants(task)
    checked = []
    for update in order_updates(view.updates(task, index), index):
        found = check_update(store, learning, base, update, index, participants, task_id=task)
        assert not hasattr(found, "reason"), found
        checked.append(found)
    screened = screen_free_riders(checked, previous)
    flagged = set(screened.kinds)
    for rejected in screened.flagged:  # the verifiers' reports (as roles.verifier sends them)
        if rejected.kind in ("copy", "zero"):
            for verifier in verifiers:
                dml.report_free_rider(
                    verifier,
                    task,
                    index,
                    rejected.trainer,
                    rejected.kind,
                    rejected.evidence or current.base,
                )
    previous = previous_base(store, learning, spec, view.task(task), index, base)
    _, payload = combine(
        learning,
        spec,
        "fedavg",
        base,
        screened.kept,
        task=task,
        round_index=index,
        previous=previous,
    )
    weights = store.add_bytes(payload).ref
    loss, accuracy = reported_metrics([c.update for c in screened.kept])
    included = tuple(c.update.trainer for c in screened.kept)
    receipt = dml.submit_aggregate(
        aggregator, task, AggregateClaim(index, weights, included, loss, accuracy)
    )
    for verifier in verifiers:
        dml.attest_aggregate(verifier, task, index, weights.digest)
    while client.block_number() <= receipt.block_number + WINDOW:
        time.sleep(0.2)
    final = dml.finalize_round(aggregator, task, index)
    paid: dict[str, int] = {}
    slashed: set[str] = set()
    for event in final.events:
        if event.pallet == "DecentralMl" and event.name == "RewardPaid":
            account = str(event.attributes["account"])
            paid[account] = paid.get(account, 0) + int(event.attributes["amount"])
        if event.pallet == "DecentralMl" and event.name == "StakeSlashed":
            slashed.add(str(event.attributes["trainer"]))
    return {
        "flagged": flagged,
        "kinds": screened.kinds,
        "reasons": [f"{r.trainer}: {r.reason}" for r in screened.flagged],
        "paid": paid,
        "slashed": slashed,
        "deltas": deltas,
        "previous": screened.previous,
    }


def scenario(seed: int) -> dict[str, Any]:
    """The two rounds on a fresh node and Kubo: the measured figures (also the e2e test's)."""
    from decentralml.core.fl import demo_federation, encode_weights, initial_weights

    shards, _, spec = demo_federation("digits", TRAINERS, alpha=0.5, seed=seed)
    weights = initial_weights(spec, seed=seed)
    keys = [Keypair.create_from_uri(f"//FreeRider{i}", ss58_format=42) for i in range(TRAINERS)]
    with tempfile.TemporaryDirectory() as tmp:
        node = DevNode(base_path=Path(tmp) / "chain")
        kubo = KuboDaemon(repo=Path(tmp) / "ipfs")
        try:
            kubo.start()
            node.start()
            client = ChainClient(node.ws_url)
            store = KuboStore(IpfsConfig(api_url=kubo.api_url))
            learning = FlLearning()
            learning.prepare(spec)
            task, aggregator = setup_chain(
                client, store, spec, encode_weights(weights), keys, challenge_window=WINDOW
            )
            verifiers = [dev_keypair(uri, client.chain_type()) for uri in ("//Charlie", "//Dave")]
            for verifier in verifiers:
                DecentralMl(client).task_call(verifier, "bond_verifier", task)
            reward = int(DecentralMl(client).task(task).fields["terms"]["reward_per_round"])
            first = one_round(
                client, store, learning, spec, task, keys, aggregator, shards, None, None, seed,
                verifiers,
            )  # fmt: skip
            rivals = {r: first["deltas"][r] for r in COPIERS.values()}
            second = one_round(
                client, store, learning, spec, task, keys, aggregator, shards,
                first["previous"], rivals, seed, verifiers,
            )  # fmt: skip
            client.close()
        finally:
            node.stop()
            kubo.stop()
    addresses = [k.ss58_address for k in keys]
    riders = {addresses[i] for i in RIDERS}
    honest_flagged = len(first["flagged"]) + len(second["flagged"] - riders)
    rider_paid = sum(v for a, v in second["paid"].items() if a in riders)
    share = rider_paid / reward
    detected = int(riders <= second["flagged"])
    print("round 0 flags:", first["reasons"])
    print("round 1 flags:", second["reasons"])
    print(f"free riders paid {rider_paid} of the round's reward {reward}", flush=True)
    kinds = {
        addresses[i]: k for i, k in ((0, "copy"), (1, "copy"), (ZERO, "zero"), (NOISE, "noise"))
    }
    right_kind = int(all(second["kinds"].get(a) == k for a, k in kinds.items()))
    honest_paid = len([a for a in second["paid"] if a in set(addresses) - riders])
    provable = {addresses[i] for i in (*COPIERS, ZERO)}
    print("slashed at round 1's finalization:", sorted(second["slashed"]), flush=True)
    return {
        "slashed": len(provable & second["slashed"]),
        "honest_slashed": len((first["slashed"] | second["slashed"]) - provable),
        "share": share,
        "honest_flagged": honest_flagged,
        "detected": detected,
        "right_kind": right_kind,
        "honest_paid": honest_paid,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    got = scenario(args.seed)
    share, honest_flagged, detected = got["share"], got["honest_flagged"], got["detected"]
    write(
        "fl_free_riders",
        f"nice -n 10 .venv/bin/python bench/fl_free_riders.py --seed {args.seed}",
        [
            result("free_rider_reward_share", round(share, 6), "fraction", "0", share == 0),
            result("honest_flagged", honest_flagged, "updates", "0", honest_flagged == 0),
            result("copy_detected_before_payout", detected, "all four flagged", "1", detected == 1),
            result("free_riders_flagged_with_their_kind", got["right_kind"], "bool", None, None),
            result("honest_paid_round_1", got["honest_paid"], "trainers of 6", None, None),
            result(
                "provable_free_riders_slashed_on_chain",
                got["slashed"],
                "of 3 (2 copies, 1 zero delta)",
                "3",
                got["slashed"] == 3,
            ),
            result(
                "others_slashed", got["honest_slashed"], "accounts", "0", got["honest_slashed"] == 0
            ),
        ],
    )


if __name__ == "__main__":
    main()
