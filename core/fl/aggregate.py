"""Combining trainers' updates into the next global model, deterministically.

``aggregate(rule, base, updates, plan=..., seed=...)`` computes
``new = base - server_learning_rate * combine(deltas)`` where each delta is ``initial - trained``
(what TFF's model-delta client work returns) and ``combine`` is the task's rule, in the chain's
grammar:

- ``fedavg``: the sample-weighted mean (FedAvg), streamed: one update in memory at a time.
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
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ..errors import TrainingError, UpdateRejected
from .spec import DPConfig, TrainingPlan
from .weights import Array, Manifest, Weights, check_finite, manifest_of

log = logging.getLogger(__name__)

RULES = ("fedavg", "median", "trimmed:<percent>", "clip:<L2 bound in millionths>")
MAX_SAMPLES = 1 << 40
CHUNK_BYTES = 16 << 20  # median / trimmed mean: float64 working block per coordinate chunk


@dataclass(frozen=True)
class Rule:
    """A parsed aggregation rule."""

    kind: str  # "fedavg" | "median" | "trimmed" | "clip"
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
) -> AggregateResult:
    """The next global model from ``base`` and the trainers' ``(delta, samples)`` updates.

    ``updates`` may be any iterable (a generator reading files keeps FedAvg's memory at a few
    model sizes; median and trimmed mean spill the updates to a temporary file and work in
    coordinate chunks of about ``chunk_bytes``). ``rounds`` is the number of DP rounds so far
    including this one, for epsilon.
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
    else:
        if chunk_bytes < 1:
            raise TrainingError(f"chunk_bytes must be positive, got {chunk_bytes}")
        combined, count, samples = _coordinatewise(parsed, manifest, updates, chunk_bytes)
    slr = float(plan.server_learning_rate)
    new: Weights = {}
    for name, array in base.items():
        step = np.multiply(combined.pop(name), slr)
        new[name] = np.subtract(array.astype(np.float64), step).astype(np.float32)
    epsilon = None
    if dp is not None:
        epsilon = dp_epsilon(dp, rounds)
    log.debug("aggregated %d updates (%d samples) with %s", count, samples, rule)
    return AggregateResult(weights=new, epsilon=epsilon, updates=count, samples=samples)


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
            np.multiply(array, weight, out=scratch[name])
            np.add(acc[name], scratch[name], out=acc[name])
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
) -> tuple[dict[str, Array], int, int]:
    # Median and trimmed mean need every update's value for each coordinate. Instead of
    # holding (number of updates) x (model size) in memory, each validated update is
    # appended as one float32 row to an unnamed temporary file; then the coordinates are
    # processed in chunks (columns), reading only that chunk of every row, so memory is
    # about ``chunk_bytes`` (twice that while the median partitions a copy) plus the float64
    # result, whatever the number of updates. Per coordinate the arithmetic is independent
    # of the chunking (the median of the same values; the trimmed sum added row by row in
    # sorted order), so the bytes out are the same for every chunk size. Each row is scaled
    # by its :func:`norm_factors` factor (float64) as it is read.
    sizes = [int(np.prod(t.shape, dtype=np.int64)) for t in manifest.tensors]
    params = sum(sizes)
    row_bytes = params * 4
    total = 0
    count = 0
    norms: list[float] = []
    scratch = {t.name: np.empty(t.shape, dtype=np.float64) for t in manifest.tensors}
    with tempfile.TemporaryFile(prefix="decentralml-aggregate-") as spill:
        for index, (delta, samples) in enumerate(updates):
            validate_update(manifest, delta, samples, index)
            norms.append(_norm(delta, scratch))
            for t in manifest.tensors:
                spill.write(np.ascontiguousarray(delta[t.name], dtype="<f4").data)
            total += int(samples)
            count += 1
        if count == 0:
            raise TrainingError("no updates to aggregate")
        spill.flush()
        del scratch
        factors = norm_factors(norms)
        trim = math.floor(count * rule.trim)
        if count - 2 * trim < 1:
            trim = (count - 1) // 2
        flat = np.empty(params, dtype=np.float64)
        width = max(1, min(params, chunk_bytes // (8 * count)))
        fd = spill.fileno()
        for start in range(0, params, width):
            stop = min(params, start + width)
            block = np.empty((count, stop - start), dtype=np.float64)
            for row in range(count):
                raw = os.pread(fd, (stop - start) * 4, row * row_bytes + start * 4)
                if len(raw) != (stop - start) * 4:
                    raise TrainingError("the aggregation's temporary file was cut short")
                np.multiply(
                    np.frombuffer(raw, dtype="<f4"),
                    factors[row],
                    out=block[row],
                    dtype=np.float64,  # the float64 loop, not float32 then widened
                )
            if rule.kind == "median":
                flat[start:stop] = np.median(block, axis=0)
            else:
                block.sort(axis=0)
                acc = block[trim].copy()
                for row in range(trim + 1, count - trim):
                    np.add(acc, block[row], out=acc)
                flat[start:stop] = acc / (count - 2 * trim)
            del block
    out: dict[str, Array] = {}
    offset = 0
    for t, size in zip(manifest.tensors, sizes, strict=True):
        out[t.name] = flat[offset : offset + size].reshape(t.shape)
        offset += size
    return out, count, total
