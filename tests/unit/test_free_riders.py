"""The free-rider rule (core/fl/freeriders.py) on synthetic updates of a 50k-parameter model."""

from __future__ import annotations

import numpy as np
from decentralml.core.fl.freeriders import (
    COPY_COSINE,
    NOISE_COSINE,
    SKETCH,
    flag_free_riders,
    round_stats,
    sketch,
    update_norm,
)

P = 50_000


def updates(n: int, seed: int) -> list[dict[str, np.ndarray]]:
    """n honest-looking updates: a shared direction plus each trainer's own, as in non-IID FL."""
    rng = np.random.default_rng(seed)
    common = rng.normal(0, 1, P)
    return [
        {"w": (common + rng.normal(0, 1.2, P)).astype(np.float32).reshape(100, 500)}
        for _ in range(n)
    ]


def run(deltas, previous=()):
    sk = [sketch(d) for d in deltas]
    return flag_free_riders(sk, [update_norm(d) for d in deltas], [sketch(p) for p in previous])


def test_honest_updates_are_not_flagged() -> None:
    for seed in range(5):
        ups = updates(10, seed)
        assert run(ups, previous=updates(10, seed + 100)) == []


def test_zero_noise_and_copies_are_flagged_with_their_kind() -> None:
    ups = updates(8, 1)
    old = updates(8, 2)
    rng = np.random.default_rng(3)
    norm = update_norm(ups[0])
    zero = {"w": np.zeros((100, 500), np.float32)}
    noise = {"w": (rng.normal(0, 1, (100, 500)) * norm / np.sqrt(P)).astype(np.float32)}
    scaled_copy = {"w": (ups[2]["w"] * 1.3).astype(np.float32)}
    stale = {"w": (old[4]["w"] + rng.normal(0, 0.02, (100, 500))).astype(np.float32)}
    flags = run([*ups, zero, noise, scaled_copy, stale], previous=old)
    got = {(f.index, f.kind) for f in flags}
    assert got == {(8, "zero"), (9, "noise"), (10, "copy"), (11, "copy")}
    by = {f.index: f for f in flags}
    assert by[10].other == 2 and by[11].previous == 4
    # The first of two identical updates is kept, the second flagged.
    flags = run([*ups[:4], ups[1]])
    assert [(f.index, f.kind, f.other) for f in flags] == [(4, "copy", 1)]


def test_sketch_cosines_track_exact_ones_and_are_deterministic() -> None:
    ups = updates(4, 7)
    flat = [u["w"].astype(np.float64).ravel() for u in ups]
    sk = [sketch(u) for u in ups]
    assert sk[0].shape == (SKETCH,)
    assert np.array_equal(sk[0], sketch({"w": ups[0]["w"].copy()}))
    for i in range(1, 4):
        exact = flat[0] @ flat[i] / np.linalg.norm(flat[0]) / np.linalg.norm(flat[i])
        approx = sk[0] @ sk[i] / np.linalg.norm(sk[0]) / np.linalg.norm(sk[i])
        assert abs(exact - approx) < 0.05
    stats = round_stats(sk, [update_norm(u) for u in ups])
    assert all(c > NOISE_COSINE for c in stats.max_abs_cosine_any)
    assert all(c < COPY_COSINE for c in stats.max_cosine_same_round)


def test_noise_needs_two_references() -> None:
    rng = np.random.default_rng(0)
    two_random = [{"w": rng.normal(0, 1, (100, 500)).astype(np.float32)} for _ in range(2)]
    assert run(two_random) == []


def test_a_trainers_own_previous_update_is_not_a_copy() -> None:
    ups = updates(5, 4)
    old = [dict(u) for u in ups]  # converged: each trainer's update equals its previous one
    sk, prev = [sketch(u) for u in ups], [sketch(u) for u in old]
    norms = [update_norm(u) for u in ups]
    owners = ["a", "b", "c", "d", "e"]
    assert flag_free_riders(sk, norms, prev, owners=owners, previous_owners=owners) == []
    # Under another trainer's name the same bytes are copies.
    shifted = owners[1:] + owners[:1]
    flags = flag_free_riders(sk, norms, prev, owners=owners, previous_owners=shifted)
    assert {f.kind for f in flags} == {"copy"} and len(flags) == 5
