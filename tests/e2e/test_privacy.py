"""Secure aggregation through the real chain, Kubo and TFF (issue 18): the roles' own code on a
fresh node-decentralml --dev, a task in the clear and the same task with secure aggregation.
In the masked task's last round one of four trainers stops right after revealing, before
publishing its shares: the aggregate must still be the clip-rule FedAvg of all four deltas
(recomputed here), include all four, and the verifier's recomputation must match every round.
The scenario is bench/fl_privacy.py's (10 trainers, 3 of them gone, there)."""

from __future__ import annotations

from .benchrun import bench_module


def test_secure_aggregation_round_survives_a_dropout_and_verifies() -> None:
    fl_privacy_chain = bench_module("fl_privacy_chain")
    got = fl_privacy_chain.run_chain_scenario(trainers=4, rounds=2, dropouts=1)
    assert got["plain_verified"] >= 2, got
    assert got["masked_verified"] >= 2 and got["masked_challenged"] == 0, got
    assert got["dropout_stopped"] == 1, got
    assert got["dropout_recovered"], got
    assert got["unmasked_messages"][-1] == "unmasked the sum of 4 updates", got
