"""A trainer's local update: TFF's client work on this trainer's dataset only.

:func:`local_update` checks the dataset and the global weights against the spec, runs
TensorFlow Federated's model-delta client work (``tff_client.client_update``) and returns the
delta (``initial - trained``, what the aggregator combines), the sample count, and the trained
model's loss and accuracy on the same local data. Only the :class:`LocalUpdate` leaves this
function; the examples never do.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ..errors import DatasetMismatch, TrainingError, UpdateRejected
from .data import Dataset
from .models import check_inputs, evaluate, manifest_for
from .spec import ModelSpec
from .weights import Weights, check_finite

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LocalUpdate:
    """What a trainer submits: the model delta and its sample count, with local metrics."""

    delta: Weights
    samples: int
    loss: float
    accuracy: float


def local_update(
    spec: ModelSpec,
    global_weights: Weights,
    dataset: Dataset,
    *,
    seed: int,
    noise_seed: int | None = None,
) -> LocalUpdate:
    """Train from ``global_weights`` on ``dataset`` with the spec's plan (TFF client work, or
    DP-SGD with ``plan.dp_sgd``: its noise is drawn from secret entropy unless ``noise_seed``
    is given, for tests and benchmarks only)."""
    check_inputs(spec, dataset.x, dataset.y)
    manifest = manifest_for(spec)
    try:
        manifest.check(global_weights)
        check_finite(global_weights)
    except UpdateRejected as exc:
        raise DatasetMismatch(f"the global weights do not fit the model: {exc.reason}") from None
    if spec.plan.dp_sgd is not None:
        from .dpsgd import dpsgd_update  # lazy: imports TensorFlow

        delta = dpsgd_update(
            spec, global_weights, dataset.x, dataset.y, seed=seed, noise_seed=noise_seed
        )
        train_metrics: dict[str, float] = {}
    else:
        from . import tff_client  # lazy: imports TensorFlow

        delta, train_metrics = tff_client.client_update(
            spec, global_weights, dataset.x, dataset.y, seed
        )
    try:
        check_finite(delta)
    except UpdateRejected as exc:
        raise TrainingError(f"training diverged ({exc.reason}); lower plan.learning_rate") from None
    trained = {
        n: (global_weights[n].astype(np.float32) - delta[n]).astype(np.float32) for n in delta
    }
    loss, accuracy = evaluate(spec, trained, dataset.x, dataset.y)
    log.debug(
        "local update: %d samples, loss %.4f, accuracy %.4f (TFF train metrics %s)",
        len(dataset),
        loss,
        accuracy,
        train_metrics,
    )
    return LocalUpdate(delta=delta, samples=len(dataset), loss=loss, accuracy=accuracy)
