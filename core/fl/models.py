"""The networks a :class:`ModelSpec` describes, in numpy: initial weights and evaluation.

Training runs in TensorFlow Federated (``tff_client.py`` builds the same network in Keras);
everything else (initial weights, evaluation, aggregation, verification) needs only numpy, so
an aggregator or verifier never imports TensorFlow. The forward pass here matches Keras:

- mlp: ``Dense(h, relu)`` for each ``h`` in ``hidden``, then ``Dense(num_classes)`` (logits).
- cnn: for each ``f`` in ``hidden`` a ``Conv2D(f, 3x3, padding="same", relu)`` and a
  ``MaxPooling2D(2)``; then ``Flatten`` and ``Dense(num_classes)`` (logits).

Tensor names (``dense_0/kernel``, ``dense_0/bias``, ``conv_0/kernel`` ...) follow the order
of Keras's ``trainable_variables`` for that network.
"""

from __future__ import annotations

import numpy as np

from ..errors import DatasetMismatch
from .spec import ModelSpec
from .weights import Array, Manifest, TensorSpec, Weights

KERNEL = 3
EVAL_BATCH = 1024


def layer_shapes(spec: ModelSpec) -> list[tuple[str, tuple[int, ...]]]:
    """(name, shape) of every trainable tensor, in Keras's order."""
    shapes: list[tuple[str, tuple[int, ...]]] = []
    if spec.kind == "mlp":
        width = spec.input_shape[0]
        for i, h in enumerate(spec.hidden):
            shapes += [(f"dense_{i}/kernel", (width, h)), (f"dense_{i}/bias", (h,))]
            width = h
        last = len(spec.hidden)
    else:
        height, wide, channels = spec.input_shape
        for i, f in enumerate(spec.hidden):
            shapes.append((f"conv_{i}/kernel", (KERNEL, KERNEL, channels, f)))
            shapes.append((f"conv_{i}/bias", (f,)))
            channels = f
            height, wide = height // 2, wide // 2
        width = height * wide * channels
        last = 0
    shapes += [
        (f"dense_{last}/kernel", (width, spec.num_classes)),
        (f"dense_{last}/bias", (spec.num_classes,)),
    ]
    return shapes


def manifest_for(spec: ModelSpec) -> Manifest:
    """The manifest every weights file and update of this model must match."""
    return Manifest(tuple(TensorSpec(name, shape) for name, shape in layer_shapes(spec)))


def parameter_count(spec: ModelSpec) -> int:
    return manifest_for(spec).parameters


def initial_weights(spec: ModelSpec, seed: int) -> Weights:
    """Glorot-uniform kernels and zero biases (Keras's defaults), from a numpy seed."""
    rng = np.random.default_rng(seed)
    weights: Weights = {}
    for name, shape in layer_shapes(spec):
        if name.endswith("/bias"):
            weights[name] = np.zeros(shape, dtype=np.float32)
            continue
        if len(shape) == 4:
            receptive = shape[0] * shape[1]
            fan_in, fan_out = receptive * shape[2], receptive * shape[3]
        else:
            fan_in, fan_out = shape
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        weights[name] = rng.uniform(-limit, limit, size=shape).astype(np.float32)
    return weights


def check_inputs(spec: ModelSpec, x: Array, y: Array) -> None:
    """Raise :class:`DatasetMismatch` unless ``x``/``y`` fit the model."""
    if x.ndim != len(spec.input_shape) + 1 or tuple(x.shape[1:]) != spec.input_shape:
        raise DatasetMismatch(
            f"examples have shape {tuple(x.shape[1:])}, the model takes {spec.input_shape}"
        )
    if y.ndim != 1 or y.shape[0] != x.shape[0]:
        raise DatasetMismatch(f"{y.shape} labels for {x.shape[0]} examples")
    if x.shape[0] == 0:
        raise DatasetMismatch("the dataset has no examples")
    if not np.issubdtype(x.dtype, np.floating):
        raise DatasetMismatch(f"examples must be floating point, got {x.dtype}")
    if not np.issubdtype(y.dtype, np.integer):
        raise DatasetMismatch(f"labels must be integers, got {y.dtype}")
    if not np.isfinite(x).all():
        raise DatasetMismatch("the examples hold NaN or Inf values")
    if y.min() < 0 or y.max() >= spec.num_classes:
        raise DatasetMismatch(
            f"labels must be 0..{spec.num_classes - 1}, got {int(y.min())}..{int(y.max())}"
        )


def logits(spec: ModelSpec, weights: Weights, x: Array) -> Array:
    """The network's output (before softmax) for a batch of examples."""
    h = np.asarray(x, dtype=np.float32)
    if spec.kind == "mlp":
        for i in range(len(spec.hidden)):
            h = np.maximum(h @ weights[f"dense_{i}/kernel"] + weights[f"dense_{i}/bias"], 0.0)
        last = len(spec.hidden)
    else:
        for i in range(len(spec.hidden)):
            h = _conv_same(h, weights[f"conv_{i}/kernel"], weights[f"conv_{i}/bias"])
            h = _maxpool2(np.maximum(h, 0.0))
        h = h.reshape(h.shape[0], -1)
        last = 0
    out: Array = h @ weights[f"dense_{last}/kernel"] + weights[f"dense_{last}/bias"]
    return out


def evaluate(spec: ModelSpec, weights: Weights, x: Array, y: Array) -> tuple[float, float]:
    """(mean sparse categorical cross-entropy, accuracy) of ``weights`` on ``x``, ``y``."""
    check_inputs(spec, x, y)
    manifest_for(spec).check(weights)
    loss_sum = 0.0
    correct = 0
    for start in range(0, x.shape[0], EVAL_BATCH):
        xb = x[start : start + EVAL_BATCH]
        yb = y[start : start + EVAL_BATCH]
        z = logits(spec, weights, xb).astype(np.float64)
        z -= z.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(z).sum(axis=1))
        loss_sum += float((log_norm - z[np.arange(len(yb)), yb]).sum())
        correct += int((z.argmax(axis=1) == yb).sum())
    n = x.shape[0]
    return loss_sum / n, correct / n


def _conv_same(x: Array, kernel: Array, bias: Array) -> Array:
    # im2col: every 3x3 window's values side by side, then one matrix product (BLAS); a
    # few times faster than an einsum over sliding-window views, which copies per call.
    kh, kw, channels, filters = kernel.shape
    n, h, w, _ = x.shape
    pad = kh // 2
    padded = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    cols = np.empty((n, h, w, kh, kw, channels), dtype=np.result_type(x, kernel))
    for i in range(kh):
        for j in range(kw):
            cols[:, :, :, i, j, :] = padded[:, i : i + h, j : j + w, :]
    flat = cols.reshape(n * h * w, kh * kw * channels) @ kernel.reshape(-1, filters)
    out: Array = flat.reshape(n, h, w, filters) + bias
    return out


def _maxpool2(x: Array) -> Array:
    n, h, w, c = x.shape
    h2, w2 = h // 2, w // 2
    trimmed = x[:, : h2 * 2, : w2 * 2, :]
    pooled: Array = trimmed.reshape(n, h2, 2, w2, 2, c).max(axis=(2, 4))
    return pooled
