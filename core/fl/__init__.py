"""Federated learning: model specs, weights on the wire, local datasets, TFF local training
and deterministic aggregation.

Importing this package (or any module in it) never imports TensorFlow; only
``tff_client.py`` does, inside its functions, when a trainer trains.
"""

from __future__ import annotations

from .aggregate import AggregateResult, aggregate, parse_rule
from .data import Dataset, demo_federation, load_dataset, save_dataset
from .models import evaluate, initial_weights, manifest_for
from .spec import DPConfig, ModelSpec, TrainingPlan
from .train import LocalUpdate, local_update
from .weights import Manifest, Weights, decode_weights, encode_weights, manifest_of

__all__ = [
    "AggregateResult",
    "DPConfig",
    "Dataset",
    "LocalUpdate",
    "Manifest",
    "ModelSpec",
    "TrainingPlan",
    "Weights",
    "aggregate",
    "decode_weights",
    "demo_federation",
    "encode_weights",
    "evaluate",
    "initial_weights",
    "load_dataset",
    "local_update",
    "manifest_for",
    "manifest_of",
    "parse_rule",
    "save_dataset",
]
