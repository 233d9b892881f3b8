"""What the roles need from the federated-learning library, behind one small Protocol.

:class:`FlLearning` is the real implementation over :mod:`decentralml.core.fl` (contract A);
it imports that package only when first used, and TensorFlow only inside the training and
evaluation functions of the library. Unit tests pass a small numpy stand-in instead.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import InputError

if TYPE_CHECKING:
    from ..fl.weights import UpdateOrigin

log = logging.getLogger(__name__)

Weights = dict[str, Any]
"""Layer name -> float32 ndarray (``decentralml.core.fl.weights.Weights``)."""


@dataclass(frozen=True)
class Trained:
    """A trainer's local result: the delta (initial minus trained) and its metrics."""

    delta: Weights
    samples: int
    loss: float
    accuracy: float


class Learning(Protocol):
    """The federated-learning operations of the roles (contract A, narrowed)."""

    def load_spec(self, data: bytes) -> Any:
        """The model's architecture file -> a ModelSpec; raises TrainingError if invalid."""
        ...

    def load_dataset(self, path: Path, spec: Any) -> Any:
        """A local dataset checked against the spec; raises TrainingError (DatasetMismatch)."""
        ...

    def dataset_size(self, dataset: Any) -> int: ...

    def dataset_jurisdiction(self, dataset: Any) -> str | None: ...

    def prepare(self, spec: Any) -> None:
        """Load heavy libraries (TensorFlow) before a round so the first one is not late."""
        ...

    def decode(self, data: bytes, like: Weights | None = None) -> Weights:
        """Decode weights; with ``like`` the names, shapes and dtypes must match. Raises
        TrainingError (UpdateRejected) for NaN/Inf, wrong shapes/dtypes or a malformed file."""
        ...

    def encode(self, weights: Weights, origin: UpdateOrigin | None = None) -> bytes:
        """Deterministic bytes (same arrays and origin -> same bytes); an update names its
        origin (task, round, trainer)."""
        ...

    def origin(self, data: bytes) -> UpdateOrigin | None:
        """The origin a weights file names (TrainingError if malformed)."""
        ...

    def train(self, spec: Any, base: Weights, dataset: Any, *, seed: int) -> Trained: ...

    def aggregate(
        self,
        rule: str,
        base: Weights,
        updates: Sequence[tuple[Weights, int]],
        *,
        spec: Any,
        seed: bytes,
        previous: Weights | None = None,
    ) -> Weights:
        """The next global model; ``previous``: the previous round's base, for the plan's
        server momentum (None: no momentum term)."""
        ...

    def server_step(
        self, spec: Any, base: Weights, combined: Weights, previous: Weights | None = None
    ) -> Weights:
        """The next global model from an already combined delta (secure aggregation: the
        unmasked mean), with the plan's server learning rate and momentum."""
        ...

    def evaluate(self, spec: Any, weights: Weights, dataset: Any) -> tuple[float, float]:
        """(loss, accuracy) of ``weights`` on ``dataset``."""
        ...

    def shutdown(self) -> None:
        """Stop any child processes (TFF's worker_binary)."""
        ...


# ---- the chain's aggregation rule ------------------------------------------------------------
def rule_text(value: Any) -> str:
    """The task's on-chain ``aggregation`` (as decoded) in the FL library's grammar:
    ``aligned``, ``bounded``,
    ``fedavg``, ``median``, ``trimmed:<percent>``, ``clip:<L2 bound in millionths>``."""
    if isinstance(value, str):
        name, arg = value, None
    elif isinstance(value, dict) and len(value) == 1:
        name, arg = next(iter(value.items()))
    else:
        raise InputError(f"unknown aggregation rule {value!r}")
    if name == "FedAvg":
        return "fedavg"
    if name == "CoordinateMedian":
        return "median"
    if name == "MedianBoundedFedAvg":
        return "bounded"
    if name == "MedianAlignedFedAvg":
        return "aligned"
    if name == "TrimmedMean" and arg is not None:
        return f"trimmed:{int(arg) / 10_000_000:g}"
    if name == "NormClippedFedAvg" and arg is not None:
        return f"clip:{int(arg)}"
    raise InputError(f"unknown aggregation rule {value!r}")


def updates_digest(digests: Sequence[bytes]) -> bytes:
    """``blake2_256(concat(digests))``, as the chain records for an aggregate's included updates."""
    return hashlib.blake2b(b"".join(digests), digest_size=32).digest()


def aggregation_seed(task: int, round_index: int, digest: bytes) -> bytes:
    """The seed of an aggregate (DP noise), reproducible by any verifier from chain data."""
    return hashlib.sha256(
        b"decentralml/aggregate" + f"/{task}/{round_index}/".encode() + digest
    ).digest()


def training_seed(task: int, round_index: int, address: str) -> int:
    """A trainer's seed for a round (data order, dropout): stable across restarts."""
    raw = hashlib.sha256(f"decentralml/train/{task}/{round_index}/{address}".encode()).digest()
    return int.from_bytes(raw[:4], "big")


# ---- the real implementation -----------------------------------------------------------------
class FlLearning:
    """:class:`Learning` over ``decentralml.core.fl``."""

    def load_spec(self, data: bytes) -> Any:
        from ..fl.spec import ModelSpec

        return ModelSpec.from_bytes(data)

    def load_dataset(self, path: Path, spec: Any) -> Any:
        from ..fl.data import load_dataset

        return load_dataset(path, spec)

    def dataset_size(self, dataset: Any) -> int:
        return len(dataset.y)

    def dataset_jurisdiction(self, dataset: Any) -> str | None:
        value = getattr(dataset, "jurisdiction", None)
        return str(value) if value else None

    def prepare(self, spec: Any) -> None:
        """Import TensorFlow/TFF and build the client work once, before the first round."""
        from ..fl import tff_client

        tff_client.modules()
        build = getattr(tff_client, "client_work", None)
        if callable(build):
            build(spec)

    def decode(self, data: bytes, like: Weights | None = None) -> Weights:
        from ..fl.weights import decode_weights, manifest_of

        expect = manifest_of(like) if like is not None else None
        return dict(decode_weights(data, expect))

    def encode(self, weights: Weights, origin: UpdateOrigin | None = None) -> bytes:
        from ..fl.weights import encode_weights

        return bytes(encode_weights(weights, origin))

    def origin(self, data: bytes) -> UpdateOrigin | None:
        from ..fl.weights import read_origin

        return read_origin(data)

    def train(self, spec: Any, base: Weights, dataset: Any, *, seed: int) -> Trained:
        from ..fl.train import local_update

        result = local_update(spec, base, dataset, seed=seed)
        return Trained(
            delta=dict(result.delta),
            samples=int(result.samples),
            loss=float(result.loss),
            accuracy=float(result.accuracy),
        )

    def aggregate(
        self,
        rule: str,
        base: Weights,
        updates: Sequence[tuple[Weights, int]],
        *,
        spec: Any,
        seed: bytes,
        previous: Weights | None = None,
    ) -> Weights:
        from ..fl.aggregate import aggregate

        result = aggregate(rule, base, updates, plan=spec.plan, seed=seed, previous=previous)
        return dict(result.weights)

    def server_step(
        self, spec: Any, base: Weights, combined: Weights, previous: Weights | None = None
    ) -> Weights:
        from ..fl.aggregate import server_step

        return dict(server_step(base, dict(combined), spec.plan, previous))

    def evaluate(self, spec: Any, weights: Weights, dataset: Any) -> tuple[float, float]:
        from ..fl.models import evaluate

        loss, accuracy = evaluate(spec, weights, dataset.x, dataset.y)
        return float(loss), float(accuracy)

    def shutdown(self) -> None:
        import sys

        # Only if training ever ran: looking the module up must not load TensorFlow.
        module = sys.modules.get(f"{__package__.rsplit('.', 1)[0]}.fl.tff_client")
        stop = getattr(module, "stop_workers", None)
        if callable(stop):
            try:
                stop()
            except Exception:  # stopping must never raise at exit
                log.warning("stopping TFF's worker processes failed", exc_info=True)
