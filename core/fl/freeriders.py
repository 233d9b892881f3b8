"""Free-rider detection: updates that did no work of their own.

A trainer is paid pro rata to its samples, so sending something that costs nothing pays as
well as training, unless it is caught. This module flags, within one round:

- ``zero``: a (near-)zero delta, i.e. the base model sent back, whose L2 norm is below
  ``ZERO_NORM`` times the median norm of the round's updates;
- ``copy``: a near duplicate of another update of this round (one revealed earlier in the
  aggregation order; the first of a pair is kept) or of another trainer's update of the
  previous round, scaled or not: cosine similarity at least ``COPY_COSINE``. A trainer's own
  previous update is not compared with: near convergence an honest trainer's consecutive
  updates reach a cosine of 0.985 on digits;
- ``noise``: random noise instead of training (e.g. base plus Gaussian noise): no update of
  the round and none of the previous round (its own included) has an absolute cosine
  similarity above ``NOISE_COSINE`` with it. Training on the task's data always relates an
  update to something: to the others early on, to the trainer's own previous update near
  convergence (when non-IID trainers' updates pull apart, so the mean of the others is no
  reference: honest cosines with it go down to -0.35 on digits).

Similarities are computed on count sketches (``SKETCH`` buckets, a fixed hash of each
coordinate's index to a bucket and a sign): inner products of sketches estimate inner products
of updates with a standard error of about ``1 / sqrt(SKETCH)`` in cosine, so a sketch is
``SKETCH`` float64 values whatever the model's size and an update is read once. The sketch's
hash depends only on the parameter count, so any verifier computes the same sketches and the
same flags (numpy float64, fixed order). Thresholds were chosen from measurements of honest
digits updates (``bench/fl_free_riders.py`` prints the distributions, docs/federated-
learning.md has the figures).

A flag is evidence a verifier can show anyone: the two content references (the flagged update
and the one it copies, or the round's others for noise and zero) and the recomputed numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .weights import Array, Weights

SKETCH = 8192
ZERO_NORM = 0.05
COPY_COSINE = 0.99
NOISE_COSINE = 0.1
_HASH_SEED = 0x5EED_F12E


@dataclass(frozen=True)
class Flag:
    """Why update ``index`` (in the order given) is excluded."""

    index: int
    kind: str  # "zero" | "copy" | "noise"
    reason: str
    other: int | None = None  # for a copy: the index it copies (this round)
    previous: int | None = None  # for a copy of the previous round: its index there


_hash_cache: dict[int, tuple[Array, Array]] = {}


def _hash(parameters: int) -> tuple[Array, Array]:
    """Bucket and sign of each coordinate, fixed for a parameter count."""
    found = _hash_cache.get(parameters)
    if found is None:
        rng = np.random.Generator(np.random.PCG64(_HASH_SEED + parameters))
        buckets = rng.integers(0, SKETCH, size=parameters, dtype=np.int64)
        signs = rng.integers(0, 2, size=parameters, dtype=np.int8).astype(np.float64) * 2 - 1
        found = (buckets, signs)
        _hash_cache.clear()  # one model at a time: do not keep a large one alive
        _hash_cache[parameters] = found
    return found


def sketch(delta: Weights) -> Array:
    """The count sketch of an update (tensors in their order, flattened)."""
    flat = np.concatenate([np.asarray(v, dtype=np.float64).ravel() for v in delta.values()])
    buckets, signs = _hash(flat.size)
    return np.bincount(buckets, weights=flat * signs, minlength=SKETCH)


def _cosine(a: Array, b: Array) -> float:
    na, nb = float(np.sqrt(np.dot(a, a))), float(np.sqrt(np.dot(b, b)))
    if na == 0.0 or nb == 0.0:
        return 0.0
    return float(np.dot(a, b)) / (na * nb)


def update_norm(delta: Weights) -> float:
    return math.sqrt(
        sum(float(np.add.reduce(np.square(v, dtype=np.float64), axis=None)) for v in delta.values())
    )


@dataclass(frozen=True)
class RoundStats:
    """What the rule looked at, per update (for reports and threshold studies)."""

    relative_norm: list[float]
    max_cosine_same_round: list[float]
    max_cosine_previous_round: list[float]
    cosine_to_others_mean: list[float]
    max_abs_cosine_any: list[float]


def relative_norms(norms: Sequence[float]) -> list[float]:
    """Each norm as a multiple of the round's median norm (0 when the median is 0)."""
    median = float(np.median(np.asarray(norms, dtype=np.float64))) if len(norms) else 0.0
    return [(x / median) if median > 0 else 0.0 for x in norms]


def round_stats(
    sketches: Sequence[Array], norms: Sequence[float], previous: Sequence[Array] = ()
) -> RoundStats:
    n = len(sketches)
    rel = relative_norms(norms)
    same = [
        max((_cosine(sketches[i], sketches[j]) for j in range(n) if j != i), default=0.0)
        for i in range(n)
    ]
    prev = [max((_cosine(s, p) for p in previous), default=0.0) for s in sketches]
    total = np.sum(np.asarray(sketches), axis=0) if n else np.zeros(SKETCH)
    to_mean = [_cosine(sketches[i], total - sketches[i]) if n > 1 else 1.0 for i in range(n)]
    related = [
        max(
            [abs(_cosine(sketches[i], sketches[j])) for j in range(n) if j != i]
            + [abs(_cosine(sketches[i], p)) for p in previous],
            default=1.0,
        )
        for i in range(n)
    ]
    return RoundStats(rel, same, prev, to_mean, related)


def flag_free_riders(
    sketches: Sequence[Array],
    norms: Sequence[float],
    previous: Sequence[Array] = (),
    *,
    owners: Sequence[str] | None = None,
    previous_owners: Sequence[str] | None = None,
) -> list[Flag]:
    """Flags for the round's updates (in aggregation order), at most one per update.

    ``previous``: sketches of the previous round's updates (empty in a task's first round);
    with ``owners`` and ``previous_owners`` (the trainers, in the same orders) an update is
    not compared with its own trainer's previous update.
    The noise test compares each update with the mean of the others that are not zero or
    copies, and needs at least three such updates (with fewer there is no consensus to
    compare with, and nothing is flagged as noise).
    """
    n = len(sketches)
    rel = relative_norms(norms)
    flags: dict[int, Flag] = {}
    for i in range(n):
        if rel[i] < ZERO_NORM:
            flags[i] = Flag(
                i,
                "zero",
                f"norm {norms[i]:.3g} is {rel[i]:.3f} of the round's median: "
                "the base model sent back",
            )
    for i in range(n):
        if i in flags:
            continue
        for j in range(i):
            if j in flags:
                continue
            c = _cosine(sketches[i], sketches[j])
            if c >= COPY_COSINE:
                flags[i] = Flag(i, "copy", f"cosine {c:.3f} with update {j} of this round", other=j)
                break
        if i in flags:
            continue
        for k, p in enumerate(previous):
            if (
                owners is not None
                and previous_owners is not None
                and owners[i] == previous_owners[k]
            ):
                continue
            c = _cosine(sketches[i], p)
            if c >= COPY_COSINE:
                flags[i] = Flag(
                    i, "copy", f"cosine {c:.3f} with update {k} of the previous round", previous=k
                )
                break
    # Noise: related to nothing. Zero deltas and copies are left out of the references, and
    # at least two references are needed (with fewer there is nothing to be related to).
    refs = [i for i in range(n) if i not in flags]
    for i in refs:
        others = [sketches[j] for j in refs if j != i] + list(previous)
        if len(others) < 2:
            continue
        best = max(abs(_cosine(sketches[i], r)) for r in others)
        if best <= NOISE_COSINE:
            flags[i] = Flag(
                i,
                "noise",
                f"at most {best:.3f} in absolute cosine with every other update of this round "
                "and the previous one: related to none (noise, not training)",
            )
    return [flags[i] for i in sorted(flags)]
