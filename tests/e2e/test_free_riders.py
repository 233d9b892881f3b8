"""Free riders through the real chain and Kubo (issue 15): the scenario of
bench/fl_free_riders.py, run on a fresh node-decentralml --dev and Kubo daemon. Round 0 is
honest (10 digits trainers, commit-reveal); in round 1 two trainers re-send a rival's revealed
round-0 update under their own name, one sends a zero delta and one base + noise. The
aggregator's code path must flag all four with their kind, exclude them (paid nothing by the
chain's RewardPaid events) and flag no honest update; two bonded verifiers' reports get the
copies and the zero delta slashed on chain without a vote."""

from __future__ import annotations

from .benchrun import bench_module


def test_free_riders_are_flagged_and_paid_nothing() -> None:
    fl_free_riders = bench_module("fl_free_riders")
    got = fl_free_riders.scenario(seed=0)
    assert got["detected"] == 1, got
    assert got["right_kind"] == 1, got
    assert got["honest_flagged"] == 0, got
    assert got["share"] == 0, got
    assert got["honest_paid"] == 6, got
    # Two bonded verifiers reported the copies and the zero delta: the chain slashed exactly
    # those three at finalization, without a vote.
    assert got["slashed"] == 3, got
    assert got["honest_slashed"] == 0, got
