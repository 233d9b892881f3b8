"""Example-level DP-SGD for a trainer's local work (the spec's ``plan.dp_sgd``).

The second module of the core that touches TensorFlow (after ``tff_client.py``), imported only
when a DP-SGD task trains. It is the same client update as TFF's model-delta client work (start
from the global weights, SGD at ``plan.learning_rate``, return ``initial - trained``) with each
step made differentially private, the algorithm of Abadi et al. 2016:

1. **Poisson sampling**: each local example joins the step's batch with probability
   ``sampling_rate``, drawn independently every step (so the batch size varies, and may be 0).
2. **Per-example clipping**: the gradient of each example's loss is computed on its own
   (``GradientTape.jacobian`` over the batch, vectorized) and scaled down to L2 norm ``clip``.
3. **Gaussian noise**: the clipped gradients are summed, noise of standard deviation
   ``noise_multiplier * clip`` is added to every coordinate, and the sum is divided by the
   expected batch ``sampling_rate * examples``; an empty batch still takes its noisy step.

This is exactly the mechanism the accountant composes (``accounting.py``: a Poisson-subsampled
Gaussian, ``steps`` times per round), which is why it is implemented here rather than through
TensorFlow Privacy's Keras optimizer: that one clips per example but trains on fixed, shuffled
batches, for which the RDP bound of Poisson sampling is only an approximation, and it needs a
Keras training loop instead of TFF's client update.

The sampling and the noise come from a generator seeded with secret entropy (``secrets``) unless
the caller passes ``noise_seed`` (tests and benchmarks only): noise anyone can regenerate
protects nothing, so the public training seed is never used for it.
"""

from __future__ import annotations

import secrets
import threading
from typing import Any

import numpy as np

from ..errors import TrainingError
from .models import layer_shapes
from .spec import DPSGDConfig, ModelSpec
from .tff_client import keras_model, modules
from .weights import Array, Weights

_lock = threading.RLock()
_clients: dict[bytes, DPSGDClient] = {}


class DPSGDClient:
    """One spec's DP-SGD local work: the Keras network and two traced functions, built once."""

    def __init__(self, spec: ModelSpec) -> None:
        if spec.plan.dp_sgd is None:
            raise TrainingError("the model's plan has no dp_sgd section")
        tf, _ = modules()
        self._tf = tf
        self.spec = spec
        self.dp: DPSGDConfig = spec.plan.dp_sgd
        self.names = [name for name, _ in layer_shapes(spec)]
        self._model = keras_model(spec)
        self._vars = self._model.trainable_variables
        loss = tf.keras.losses.SparseCategoricalCrossentropy(
            from_logits=True, reduction=tf.keras.losses.Reduction.NONE
        )
        clip = float(self.dp.clip)
        x_spec = tf.TensorSpec([None, *spec.input_shape], tf.float32)
        y_spec = tf.TensorSpec([None], tf.int32)

        @tf.function(input_signature=[x_spec, y_spec])  # type: ignore[misc]
        def clipped_sum(x: Any, y: Any) -> Any:
            with tf.GradientTape() as tape:
                losses = loss(y, self._model(x, training=True))
            jac = tape.jacobian(losses, self._vars, experimental_use_pfor=True)
            batch = tf.shape(x)[0]
            flat = [tf.reshape(g, [batch, -1]) for g in jac]
            norms = tf.sqrt(tf.add_n([tf.reduce_sum(tf.square(g), axis=1) for g in flat]))
            scale = tf.minimum(1.0, clip / tf.maximum(norms, 1e-12))
            return [tf.tensordot(scale, g, axes=1) for g in jac]

        self._clipped_sum = clipped_sum

    def run(
        self, weights: Weights, x: Array, y: Array, *, data_seed: int, noise_seed: int | None
    ) -> Weights:
        """``initial - trained`` after ``plan.local_epochs`` DP-SGD epochs from ``weights``."""
        plan, dp = self.spec.plan, self.dp
        for var, name in zip(self._vars, self.names, strict=True):
            var.assign(np.asarray(weights[name], dtype=np.float32))
        n = int(x.shape[0])
        xs, ys = x.astype(np.float32), y.astype(np.int32)
        # Test seeds are mixed with the data seed through a SeedSequence: distinct streams for
        # every (noise seed, data seed) pair, even equal ones.
        entropy: int | list[int] = (
            secrets.randbits(128) if noise_seed is None else [noise_seed, data_seed]
        )
        rng = np.random.default_rng(entropy)
        std = float(dp.noise_multiplier * dp.clip)
        expected = float(dp.sampling_rate * n)
        for _ in range(dp.steps(plan.local_epochs)):
            chosen = np.flatnonzero(rng.random(n) < dp.sampling_rate)
            if chosen.size:
                sums = [g.numpy() for g in self._clipped_sum(xs[chosen], ys[chosen])]
            else:
                sums = [np.zeros(v.shape, np.float32) for v in self._vars]
            for var, total in zip(self._vars, sums, strict=True):
                noisy = total + rng.normal(0.0, std, size=total.shape)
                var.assign_sub((plan.learning_rate * noisy / expected).astype(np.float32))
        return {
            name: (np.asarray(weights[name], np.float32) - var.numpy()).astype(np.float32)
            for var, name in zip(self._vars, self.names, strict=True)
        }


def client(spec: ModelSpec) -> DPSGDClient:
    """The cached :class:`DPSGDClient` for this spec."""
    key = spec.to_bytes()
    with _lock:
        if key not in _clients:
            _clients[key] = DPSGDClient(spec)
        return _clients[key]


def dpsgd_update(
    spec: ModelSpec,
    weights: Weights,
    x: Array,
    y: Array,
    *,
    seed: int,
    noise_seed: int | None = None,
) -> Weights:
    """One trainer's DP-SGD local update: ``delta = initial - trained``."""
    with _lock:
        try:
            return client(spec).run(weights, x, y, data_seed=seed, noise_seed=noise_seed)
        except TrainingError:
            raise
        except Exception as exc:  # TF raises many kinds; report them as a training failure
            raise TrainingError(f"DP-SGD local update failed: {exc}") from exc
