"""Combining trainers' updates into the next global model, deterministically.

``aggregate(rule, base, updates, plan=..., seed=...)`` computes
``new = base - server_learning_rate * combine(deltas)`` where each delta is ``initial - trained``
(what TFF's model-delta client work returns) and ``combine`` is the task's rule, in the chain's
grammar:

- ``fedavg``: the sample-weighted mean (FedAvg), streamed: one update in memory at a time.
- ``bounded``: FedAvg after scaling every update whose L2 norm exceeds the median of the
  round's update norms down to that median (no parameter to tune; the default of a task).
  A boosted or sign-flipped update then moves the model no further than a typical honest one,
  and with honest updates it is FedAvg but for the few largest. The updates are spilled to a
  temporary file (their norms are needed before the mean), then read back one at a time.
- ``aligned``: ``bounded``, with each update's weight (samples x norm factor) further
  multiplied by ``max(0, cosine)`` of the update with the coordinate-wise median of the
  norm-bounded updates (the ``median`` rule's combine): an update pointing away from what the
  majority agrees on (a sign flip, inner-product manipulation, a label-flipped trainer's pull)
  weighs little or nothing, while honest non-IID updates keep most of their weight (the
  default of a task: no parameter to tune, measured in bench/fl_robustness.py). If every
  weight is zero (no update agrees with the median), it falls back to ``bounded``.
- ``median``: the coordinate-wise median (unweighted).
- ``trimmed:<percent>``: the coordinate-wise mean after dropping ``percent`` % of the values
  from each end (unweighted; ``trimmed:10`` drops the lowest and highest 10 %).
  Both first scale every update whose L2 norm exceeds the median of the updates' norms down
  to that median (a boosted update then weighs like a typical one), and both spill the
  updates to a temporary file and work in coordinate chunks (bounded memory).
- ``clip:<bound>``: FedAvg after scaling each update down to an L2 norm of at most
  ``bound`` millionths (``clip:1000000`` is a norm of 1.0), streamed.

With ``plan.dp`` set, the DP-FedAvg Gaussian mechanism of TFF's
``DifferentiallyPrivateFactory.gaussian_fixed`` is applied instead of the weighted mean: each
update is clipped to ``dp.clip`` (and to the rule's bound for ``clip:``), the clipped updates are
summed, Gaussian noise with standard deviation ``noise_multiplier * clip`` is added to the sum,
and the sum is divided by the number of updates. The noise comes from a numpy PCG64 generator
seeded with ``sha256(seed)``, so a verifier with the same seed reproduces it exactly; the
reported epsilon is the RDP accountant's (``dp_accounting``, the library TFF and TensorFlow
Privacy use) for ``rounds`` compositions of that Gaussian mechanism at ``dp.delta``, every
trainer taking part in every round (no sampling amplification claimed).

Determinism: all arithmetic is numpy float64 in a fixed order (the order of ``updates``, which
is the order of the ``included`` list submitted on chain) and the result is cast to float32,
so the same inputs give byte-identical :func:`encode_weights` output on every machine with the
same numpy. Every update is checked (names, shapes, float32, finite, samples > 0) and a bad
one raises :class:`UpdateRejected` with its index.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import tempfile
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO

import numpy as np

from ..errors import TrainingError, UpdateRejected
from .spec import DPConfig, TrainingPlan
from .weights import Array, Manifest, Weights, check_finite, manifest_of

log = logging.getLogger(__name__)

RULES = (
    "aligned",
    "bounded",
    "fedavg",
    "median",
    "trimmed:<percent>",
    "clip:<L2 bound in millionths>",
)
MAX_SAMPLES = 1 << 40
CHUNK_BYTES = 16 << 20  # median / trimmed mean: float64 working block per coordinate chunk
ADD_BLOCK = 1 << 14  # FedAvg / clip: values per multiply-add step (128 KiB of float64)


@dataclass(frozen=True)
class Rule:
    """A parsed aggregation rule."""

    kind: str  # "fedavg" | "bounded" | "aligned" | "median" | "trimmed" | "clip"
    trim: float = 0.0  # share trimmed from each end, 0 <= trim < 0.5
    clip: float | None = None  # L2 bound for "clip"

    @property
    def streaming(self) -> bool:
        return self.kind in ("fedavg", "clip")


@dataclass(frozen=True)
class AggregateResult:
    """The new global model and, with differential privacy, the epsilon spent so far."""

    weights: Weights
    epsilon: float | None = None
    updates: int = 0
    samples: int = 0


def parse_rule(rule: str) -> Rule:
    """Parse the chain's rule grammar; :class:`TrainingError` on anything else."""
    text = rule.strip().lower()
    if text == "fedavg":
        return Rule("fedavg")
    if text in ("bounded", "aligned"):
        return Rule(text)
    if text in ("median", "coordinate-median"):
        return Rule("median")
    if text.startswith("trimmed:"):
        raw = text.split(":", 1)[1].rstrip("%")
        try:
            percent = float(raw)
        except ValueError:
            raise TrainingError(f"trimmed share must be a percentage, got {raw!r}") from None
        if not (0 <= percent < 50):
            raise TrainingError(f"trimmed share must be 0 <= percent < 50, got {percent}")
        return Rule("trimmed", trim=percent / 100)
    if text.startswith("clip:"):
        raw = text.split(":", 1)[1]
        if not raw.isdigit() or int(raw) == 0:
            raise TrainingError(
                f"clip bound must be a positive whole number (millionths), got {raw!r}"
            )
        return Rule("clip", clip=int(raw) / 1_000_000)
    raise TrainingError(f"unknown aggregation rule {rule!r} (use {', '.join(RULES)})")


def validate_update(
    manifest: Manifest, delta: Weights, samples: int, index: int | None = None
) -> None:
    """Raise :class:`UpdateRejected` unless the update fits the model and is finite."""
    try:
        if isinstance(samples, bool) or not isinstance(samples, int | np.integer):
            raise UpdateRejected(f"sample count must be a whole number, got {samples!r}")
        if not (0 < int(samples) <= MAX_SAMPLES):
            raise UpdateRejected(f"sample count must be positive, got {samples}")
        manifest.check(delta)
        check_finite(delta)
    except UpdateRejected as exc:
        raise UpdateRejected(exc.reason, index=index) from None


def aggregate(
    rule: str,
    base: Weights,
    updates: Iterable[tuple[Weights, int]],
    *,
    plan: TrainingPlan,
    seed: bytes,
    rounds: int = 1,
    chunk_bytes: int = CHUNK_BYTES,
    workers: int | None = None,
    previous: Weights | None = None,
) -> AggregateResult:
    """The next global model from ``base`` and the trainers' ``(delta, samples)`` updates.

    ``updates`` may be any iterable (a generator reading files keeps FedAvg's memory at a few
    model sizes; median and trimmed mean spill the updates to a temporary file and work in
    coordinate chunks of about ``chunk_bytes``, in ``workers`` threads: by default one per
    core, at most 4; the bytes out do not depend on it). ``rounds`` is the number of DP rounds
    so far including this one, for epsilon.

    ``previous``: the previous round's base, when that round succeeded. With
    ``plan.server_momentum`` (beta) > 0 the step is the heavy ball
    ``new = (base - server_learning_rate * combined) + beta * (base - previous)``, each
    element in float64 in that order (no reduction, so the bytes are the same everywhere);
    without ``previous`` (a task's first round, or after a failed one) the momentum term is 0.
    """
    parsed = parse_rule(rule)
    manifest = manifest_of(base)
    check_finite(base)
    dp = plan.dp
    if dp is not None and not parsed.streaming:
        raise TrainingError(
            f"differential privacy works with fedavg or clip rules, not {rule!r}: "
            "use fedavg (or clip:<bound>) with plan.dp, or drop plan.dp"
        )
    if rounds < 1:
        raise TrainingError(f"rounds must be at least 1, got {rounds}")
    if parsed.streaming:
        combined, count, samples = _streamed_mean(parsed, manifest, updates, dp, seed)
    elif parsed.kind == "bounded":
        combined, count, samples = _bounded_mean(manifest, updates)
    else:
        if chunk_bytes < 1:
            raise TrainingError(f"chunk_bytes must be positive, got {chunk_bytes}")
        if workers is not None and workers < 1:
            raise TrainingError(f"workers must be at least 1, got {workers}")
        if parsed.kind == "aligned":
            combined, count, samples = _aligned_mean(manifest, updates, chunk_bytes, workers)
        else:
            combined, count, samples = _coordinatewise(
                parsed, manifest, updates, chunk_bytes, workers
            )
    new = server_step(base, combined, plan, previous)
    epsilon = None
    if dp is not None:
        epsilon = dp_epsilon(dp, rounds)
    log.debug("aggregated %d updates (%d samples) with %s", count, samples, rule)
    return AggregateResult(weights=new, epsilon=epsilon, updates=count, samples=samples)


def server_step(
    base: Weights,
    combined: dict[str, Array],
    plan: TrainingPlan,
    previous: Weights | None = None,
) -> Weights:
    """``base - server_learning_rate * combined`` (plus the plan's momentum term with
    ``previous``), each element in float64 in that order, so the bytes are the same everywhere.
    ``combined`` (float64 per tensor, the combined delta) is consumed."""
    manifest = manifest_of(base)
    slr = float(plan.server_learning_rate)
    beta = float(plan.server_momentum)
    if beta and previous is not None:
        try:
            manifest.check(previous)
            check_finite(previous)
        except UpdateRejected as exc:
            raise TrainingError(f"the previous round's base does not fit: {exc.reason}") from None
    else:
        previous = None
    new: Weights = {}
    for name, array in base.items():
        step = np.multiply(combined.pop(name), slr)
        wide = array.astype(np.float64)
        result = np.subtract(wide, step)
        if previous is not None:
            moved = np.subtract(wide, previous[name].astype(np.float64))
            np.add(result, np.multiply(moved, beta), out=result)
        new[name] = result.astype(np.float32)
    return new


def dp_epsilon(dp: DPConfig, rounds: int) -> float:
    """Epsilon at ``dp.delta`` after ``rounds`` Gaussian-mechanism rounds (RDP accountant)."""
    if dp.noise_multiplier == 0:
        return math.inf
    import dp_accounting  # type: ignore[import-untyped]  # lazy: about 2 s, and only DP aggregations need it

    accountant = dp_accounting.rdp.RdpAccountant()
    accountant.compose(
        dp_accounting.SelfComposedDpEvent(
            dp_accounting.GaussianDpEvent(dp.noise_multiplier), rounds
        )
    )
    return float(accountant.get_epsilon(dp.delta))


def noise_rng(seed: bytes) -> np.random.Generator:
    """The generator DP noise is drawn from: PCG64 seeded with sha256 of the aggregate seed."""
    digest = hashlib.sha256(b"decentralml/dp-noise/1" + bytes(seed)).digest()
    return np.random.Generator(np.random.PCG64(int.from_bytes(digest, "big")))


# ---- internals --------------------------------------------------------------------------
def _streamed_mean(
    rule: Rule,
    manifest: Manifest,
    updates: Iterable[tuple[Weights, int]],
    dp: DPConfig | None,
    seed: bytes,
) -> tuple[dict[str, Array], int, int]:
    acc = {t.name: np.zeros(t.shape, dtype=np.float64) for t in manifest.tensors}
    scratch = {t.name: np.empty(t.shape, dtype=np.float64) for t in manifest.tensors}
    block = np.empty(ADD_BLOCK, dtype=np.float64)
    bound = rule.clip
    if dp is not None:
        bound = dp.clip if bound is None else min(bound, dp.clip)
    total = 0
    count = 0
    for index, (delta, samples) in enumerate(updates):
        validate_update(manifest, delta, samples, index)
        factor = 1.0
        if bound is not None:
            norm = _norm(delta, scratch)
            if norm > bound:
                factor = bound / norm
        weight = factor if dp is not None else factor * int(samples)
        for name, array in delta.items():
            _add_scaled(acc[name], array, weight, block)
        total += int(samples)
        count += 1
    if count == 0:
        raise TrainingError("no updates to aggregate")
    if dp is not None:
        rng = noise_rng(seed)
        std = dp.noise_multiplier * dp.clip
        for t in manifest.tensors:
            if std > 0:
                acc[t.name] += rng.standard_normal(t.shape, dtype=np.float64) * std
            acc[t.name] /= count
    else:
        for name in acc:
            acc[name] /= total
    return acc, count, total


def _add_scaled(acc: Array, array: Array, weight: float, block: Array) -> None:
    """``acc += array * weight``, elementwise exactly as ``np.multiply(array, weight)`` into a
    float64 buffer then ``np.add``, but in blocks of ``ADD_BLOCK`` values so the product stays
    in the CPU cache instead of making a round trip through memory (about twice as fast for a
    1M-parameter model; the same bytes, since every element sees the same two operations)."""
    flat_acc = acc.reshape(-1)
    flat = array.reshape(-1)
    size = flat.shape[0]
    for start in range(0, size, ADD_BLOCK):
        stop = min(size, start + ADD_BLOCK)
        part = block[: stop - start]
        np.multiply(flat[start:stop], weight, out=part)
        np.add(flat_acc[start:stop], part, out=flat_acc[start:stop])


def _norm(delta: Weights, scratch: dict[str, Array]) -> float:
    # Squares in float64 summed by numpy's pairwise reduction: the same on every machine
    # (a BLAS dot product may sum in a CPU-dependent order and break byte-identical results).
    total = 0.0
    for name, array in delta.items():
        buf = scratch[name]
        np.multiply(array, array, out=buf, dtype=np.float64)
        total += float(np.add.reduce(buf, axis=None))
    return math.sqrt(total)


def norm_factors(norms: list[float]) -> list[float]:
    """Scale factors bounding every update's L2 norm by the median of the norms.

    Before the coordinate-wise rules combine, each update larger than the median norm is
    scaled down to it: a boosted update (x10) then weighs no more than a typical honest one
    in the coordinates where it is not cut off anyway. Exact in float64 (the norms come from
    :func:`_norm`'s fixed-order sums), so a verifier gets the same factors.
    """
    bound = float(np.median(np.asarray(norms, dtype=np.float64)))
    return [bound / n if n > bound else 1.0 for n in norms]


def _coordinatewise(
    rule: Rule,
    manifest: Manifest,
    updates: Iterable[tuple[Weights, int]],
    chunk_bytes: int = CHUNK_BYTES,
    workers: int | None = None,
) -> tuple[dict[str, Array], int, int]:
    # Median and trimmed mean need every update's value for each coordinate. Instead of
    # holding (number of updates) x (model size) in memory, each validated update is
    # appended as one float32 row to an unnamed temporary file; then the coordinates are
    # processed in chunks (columns), reading only that chunk of every row, so memory is about
    # ``chunk_bytes`` (split between the worker threads, twice that while the trimmed mean
    # sums) plus the float64 result, whatever the number of updates. See _combine_chunk for
    # the arithmetic, which is independent of the chunking and of the threads: the bytes out
    # are the same for every chunk size and worker count.
    with _spilled(manifest, updates) as sp:
        flat = _spilled_combine(rule, sp, chunk_bytes, workers)
    return _unflatten(manifest, sp.sizes, flat), len(sp.norms), sum(sp.samples)


def _spilled_combine(rule: Rule, sp: _Spilled, chunk_bytes: int, workers: int | None) -> Array:
    """The coordinate-wise ``rule`` over the spilled rows, as one float64 vector."""
    count, params = len(sp.norms), sp.params
    factors = np.asarray(sp.factors, dtype=np.float64)
    trim = math.floor(count * rule.trim)
    if count - 2 * trim < 1:
        trim = (count - 1) // 2
    threads = max(1, workers if workers is not None else min(4, os.cpu_count() or 1))
    width = max(1, min(params, chunk_bytes // (8 * count * threads)))
    flat = np.empty(params, dtype=np.float64)
    _combine_chunks(rule, sp.fd, count, params, factors, trim, width, threads, flat)
    return flat


def _aligned_mean(
    manifest: Manifest,
    updates: Iterable[tuple[Weights, int]],
    chunk_bytes: int,
    workers: int | None,
) -> tuple[dict[str, Array], int, int]:
    # 1. spill + norms (as median); 2. the median of the norm-bounded rows (the reference);
    # 3. each row read back once: its cosine with the reference (fixed-order float64 sums, the
    # norm factor cancels), weight = samples x factor x max(0, cosine), multiply-add in update
    # order; 4. divide by the sum of the weights.
    with _spilled(manifest, updates) as sp:
        fd, params, samples = sp.fd, sp.params, sp.samples
        reference = _spilled_combine(Rule("median"), sp, chunk_bytes, workers)
        ref_norm = _vector_norm(reference, np.empty(params, dtype=np.float64))
        row = np.empty(params, dtype="<f4")
        product = np.empty(params, dtype=np.float64)
        acc = np.zeros(params, dtype=np.float64)
        block = np.empty(ADD_BLOCK, dtype=np.float64)
        weights: list[float] = []
        rows = zip(sp.factors, sp.norms, samples, strict=True)
        for index, (factor, norm, count) in enumerate(rows):
            _read_row(fd, row, index)
            cosine = 0.0
            if norm > 0 and ref_norm > 0:
                np.multiply(row, reference, out=product, dtype=np.float64)
                cosine = float(np.add.reduce(product)) / (norm * ref_norm)
            weight = factor * count * max(0.0, cosine)
            weights.append(weight)
            if weight > 0:
                _add_scaled(acc, row, weight, block)
        wsum = math.fsum(weights)
        if wsum > 0:
            acc /= wsum
        else:  # nothing agrees with the median (or it is zero): the bounded mean
            acc = _bounded_sum(sp)
    log.debug("aligned weights: %s", [round(w, 3) for w in weights])
    return _unflatten(manifest, sp.sizes, acc), len(sp.norms), sum(samples)


def _sum_rows(fd: int, row: Array, weights: list[float], acc: Array, block: Array) -> None:
    """``acc += weight x row`` for each spilled row with a non-zero weight, in row order."""
    for index, weight in enumerate(weights):
        if weight:
            _read_row(fd, row, index)
            _add_scaled(acc, row, weight, block)


def _read_row(fd: int, row: Array, index: int) -> None:
    """Row ``index`` of the spill file (rows of ``row.size`` float32 values) into ``row``."""
    if os.preadv(fd, [row.data], index * row.nbytes) != row.nbytes:
        raise TrainingError("the aggregation's temporary file was cut short")


def _vector_norm(vector: Array, scratch: Array) -> float:
    np.multiply(vector, vector, out=scratch)
    return math.sqrt(float(np.add.reduce(scratch)))


@dataclass(frozen=True)
class _Spilled:
    """Validated updates spilled as float32 rows to an open temporary file ``fd``."""

    fd: int
    sizes: list[int]  # parameters per tensor, in manifest order
    norms: list[float]  # one per row
    samples: list[int]  # one per row
    factors: list[float]  # norm_factors(norms)

    @property
    def params(self) -> int:
        return sum(self.sizes)


@contextmanager
def _spilled(manifest: Manifest, updates: Iterable[tuple[Weights, int]]) -> Iterator[_Spilled]:
    """Spill ``updates`` to an unnamed temporary file, removed on exit."""
    sizes = [int(np.prod(t.shape, dtype=np.int64)) for t in manifest.tensors]
    with tempfile.TemporaryFile(prefix="decentralml-aggregate-") as spill:
        norms, samples = _spill(manifest, updates, spill, sum(sizes))
        yield _Spilled(spill.fileno(), sizes, norms, samples, norm_factors(norms))


def _bounded_sum(sp: _Spilled) -> Array:
    """The sample-weighted mean of the norm-bounded rows (weight = factor x samples)."""
    acc = np.zeros(sp.params, dtype=np.float64)
    weights = [f * n for f, n in zip(sp.factors, sp.samples, strict=True)]
    block = np.empty(ADD_BLOCK, dtype=np.float64)
    _sum_rows(sp.fd, np.empty(sp.params, dtype="<f4"), weights, acc, block)
    acc /= sum(sp.samples)
    return acc


def _spill(
    manifest: Manifest, updates: Iterable[tuple[Weights, int]], spill: IO[bytes], params: int
) -> tuple[list[float], list[int]]:
    """Validate each update and append it to ``spill`` as one float32 row (tensors in manifest
    order); ``(norms, sample counts)``, one each per row."""
    norms: list[float] = []
    counts: list[int] = []
    scratch = {t.name: np.empty(t.shape, dtype=np.float64) for t in manifest.tensors}
    for index, (delta, samples) in enumerate(updates):
        validate_update(manifest, delta, samples, index)
        norms.append(_norm(delta, scratch))
        for t in manifest.tensors:
            spill.write(np.ascontiguousarray(delta[t.name], dtype="<f4").data)
        counts.append(int(samples))
    if not norms:
        raise TrainingError("no updates to aggregate")
    spill.flush()
    if os.fstat(spill.fileno()).st_size != len(norms) * params * 4:
        raise TrainingError("the aggregation's temporary file was cut short")
    return norms, counts


def _unflatten(manifest: Manifest, sizes: list[int], flat: Array) -> dict[str, Array]:
    out: dict[str, Array] = {}
    offset = 0
    for t, size in zip(manifest.tensors, sizes, strict=True):
        out[t.name] = flat[offset : offset + size].reshape(t.shape)
        offset += size
    return out


def _bounded_mean(
    manifest: Manifest, updates: Iterable[tuple[Weights, int]]
) -> tuple[dict[str, Array], int, int]:
    # The weighted mean with each update scaled by its median-norm factor: the same two
    # operations per element as the clip rule's streamed mean (weight = factor x samples,
    # multiply-add in update order, divide by the total samples), each row read back from the
    # spill file in turn, so memory is one row of float32 plus the float64 sum.
    with _spilled(manifest, updates) as sp:
        acc = _bounded_sum(sp)
    return _unflatten(manifest, sp.sizes, acc), len(sp.norms), sum(sp.samples)


def _combine_chunks(
    rule: Rule,
    fd: int,
    count: int,
    params: int,
    factors: Array,
    trim: int,
    width: int,
    threads: int,
    flat: Array,
) -> None:
    """Fill ``flat`` chunk by chunk of ``width`` coordinates from the spill file ``fd``.

    Each chunk reads its slice of every update's row straight into a float32 buffer
    (``preadv``, no intermediate bytes), so the process holds only its chunks, never the file.
    """
    row_bytes = params * 4
    local = threading.local()

    def one(start: int) -> None:
        stop = min(params, start + width)
        if not hasattr(local, "raw"):  # this thread's buffers, reused chunk after chunk
            local.raw = np.empty((count, width), dtype="<f4")
            local.block = np.empty((width, count), dtype=np.float64)
        raw = local.raw[:, : stop - start]
        want = (stop - start) * 4
        for row in range(count):
            if os.preadv(fd, [raw[row]], row * row_bytes + start * 4) != want:
                raise TrainingError("the aggregation's temporary file was cut short")
        block = local.block[: stop - start]
        flat[start:stop] = _combine_chunk(rule, raw, factors, trim, block)

    starts = range(0, params, width)
    if threads == 1:
        for start in starts:
            one(start)
        return
    # numpy's multiply, sort and accumulate and os.preadv release the GIL, so the chunks
    # really run in parallel; each writes its own slice of ``flat``, and list() re-raises a
    # worker's error.
    with ThreadPoolExecutor(threads, thread_name_prefix="aggregate") as pool:
        list(pool.map(one, starts))


def _combine_chunk(rule: Rule, raw: Array, factors: Array, trim: int, block: Array) -> Array:
    """One coordinate chunk: ``raw`` is (updates, width) float32, the result (width,) float64.

    Each value is widened to float64 and multiplied by its update's norm factor (one rounding)
    into ``block`` (width, updates), coordinate-major so that every coordinate's values are
    contiguous, and each coordinate's values are sorted ascending. The median is the middle
    value, or the two middle values' sum halved (numpy's definition); the trimmed mean adds the
    kept values one by one in ascending order (never a pairwise or BLAS sum), then divides by
    their number. Adding 0.0 makes a zero result +0.0 whichever of the equal-comparing -0.0 and
    +0.0 the sort put there, so the bytes do not depend on the sorting algorithm.
    """
    count = raw.shape[0]
    np.multiply(raw.T, factors, out=block, dtype=np.float64)
    # A full sort, also for the median: numpy's vectorised sort of 1,000 float64 per row is
    # twice as fast here as a partition around the middle (0.011 s against 0.022 s for
    # 2,000 x 1,000), and it leaves the same values in the middle.
    block.sort(axis=1)
    if rule.kind == "median":
        middle = count // 2
        if count % 2:
            result = block[:, middle].copy()
        else:
            result = np.add(block[:, middle - 1], block[:, middle])
            np.true_divide(result, 2.0, out=result)
    else:
        result = block[:, trim].copy()
        for column in range(trim + 1, count - trim):
            np.add(result, block[:, column], out=result)
        np.true_divide(result, count - 2 * trim, out=result)
    np.add(result, 0.0, out=result)
    return result
