"""TensorFlow Federated, imported lazily: the only module of the core that touches TF.

- :func:`client_update` runs TFF's ``build_model_delta_client_work`` (the client half of
  FedAvg) on one trainer's data and returns ``initial - trained`` for each tensor.
- :func:`fed_avg_round` runs one round of ``tff.learning.algorithms.build_weighted_fed_avg`` on
  several datasets in process (a reference the tests compare ``local_update`` + ``aggregate``
  against).
- :func:`stop_workers` stops the C++ ``worker_binary`` child TFF starts for its execution
  context; it is registered with ``atexit`` on first use, so it always runs at exit (TFF only
  stops it in a destructor that usually does not run, and the orphan keeps our stdout open).

Built computations are cached per model spec (tracing costs seconds; a call after that about
0.05 s for a small model).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import TrainingError
from .models import layer_shapes
from .spec import ModelSpec
from .weights import Array, Weights

log = logging.getLogger(__name__)

WORKER_NAME = "worker_binary"
_lock = threading.RLock()
_modules: tuple[Any, Any] | None = None
_client_work: dict[bytes, Any] = {}


def modules() -> tuple[Any, Any]:
    """``(tensorflow, tensorflow_federated)``, imported on first use (several seconds)."""
    global _modules
    with _lock:
        if _modules is None:
            os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
            try:
                import tensorflow as tf  # type: ignore[import-untyped]
                import tensorflow_federated as tff  # type: ignore[import-untyped]
            except ImportError as exc:
                raise TrainingError(
                    f"TensorFlow Federated is not installed ({exc}); install the 'fl' "
                    "dependency group (uv sync) to train"
                ) from None
            atexit.register(_stop_at_exit)
            _modules = (tf, tff)
        return _modules


def worker_pids() -> list[int]:
    """Pids of this process's running TFF ``worker_binary`` children."""
    me = os.getpid()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm = (entry / "comm").read_text().strip()
            if comm != WORKER_NAME:
                continue
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        state, ppid = stat.rpartition(")")[2].split()[:2]
        if int(ppid) == me and state not in ("Z", "X"):
            found.append(int(entry.name))
    return found


def stop_workers(timeout: float = 5.0, *, restartable: bool = True) -> list[int]:
    """Stop this process's TFF worker children (SIGINT, then SIGKILL); returns their pids.

    A stopped worker is left for TFF's own process handle to reap (it is a zombie with every
    file closed until then). With ``restartable`` the execution context is replaced, so the
    next TFF call starts a fresh worker.
    """
    pids = worker_pids()
    for pid in pids:
        _signal(pid, signal.SIGINT)
    pending = _wait_exited(pids, timeout)
    for pid in pending:
        _signal(pid, signal.SIGKILL)
    _wait_exited(pending, timeout)
    if pids:
        log.debug("stopped TFF workers %s", pids)
        if restartable and _modules is not None:
            _modules[1].backends.native.set_sync_local_cpp_execution_context()
    return pids


def _stop_at_exit() -> None:
    stop_workers(restartable=False)


def keras_model(spec: ModelSpec) -> Any:
    """The Keras network a spec describes (logits out); see ``models.py`` for the layers."""
    tf, _ = modules()
    layers = tf.keras.layers
    stack: list[Any] = [layers.InputLayer(input_shape=spec.input_shape)]
    if spec.kind == "mlp":
        stack += [layers.Dense(h, activation="relu") for h in spec.hidden]
    else:
        for f in spec.hidden:
            stack += [
                layers.Conv2D(f, 3, padding="same", activation="relu"),
                layers.MaxPooling2D(2),
            ]
        stack.append(layers.Flatten())
    stack.append(layers.Dense(spec.num_classes))
    return tf.keras.Sequential(stack)


def _model_fn(spec: ModelSpec) -> Any:
    tf, tff = modules()
    input_spec = (
        tf.TensorSpec([None, *spec.input_shape], tf.float32),
        tf.TensorSpec([None], tf.int32),
    )

    def model_fn() -> Any:
        return tff.learning.models.from_keras_model(
            keras_model(spec),
            loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            input_spec=input_spec,
            metrics=[tf.keras.metrics.SparseCategoricalAccuracy()],
        )

    return model_fn


def client_work(spec: ModelSpec) -> Any:
    """TFF's model-delta client work for this spec (SGD at the plan's learning rate), cached."""
    key = spec.to_bytes()
    with _lock:
        if key not in _client_work:
            _, tff = modules()
            _client_work[key] = tff.learning.templates.build_model_delta_client_work(
                _model_fn(spec),
                tff.learning.optimizers.build_sgdm(learning_rate=spec.plan.learning_rate),
                client_weighting=tff.learning.ClientWeighting.NUM_EXAMPLES,
            )
        return _client_work[key]


def client_dataset(spec: ModelSpec, x: Array, y: Array, seed: int) -> Any:
    """``local_epochs`` passes over the data, each shuffled by ``seed``, in batches."""
    tf, _ = modules()
    rng = np.random.default_rng(seed % (1 << 64))
    data: Any = None
    for _ in range(spec.plan.local_epochs):
        order = rng.permutation(x.shape[0])
        epoch = tf.data.Dataset.from_tensor_slices(
            (x[order].astype(np.float32), y[order].astype(np.int32))
        ).batch(spec.plan.batch_size)
        data = epoch if data is None else data.concatenate(epoch)
    return data


def client_update(
    spec: ModelSpec, weights: Weights, x: Array, y: Array, seed: int
) -> tuple[Weights, dict[str, float]]:
    """One trainer's TFF client work: ``(delta = initial - trained, TFF's train metrics)``."""
    tf, tff = modules()
    names = [name for name, _ in layer_shapes(spec)]
    with _lock:
        work = client_work(spec)
        tf.random.set_seed(seed % (1 << 31))
        model_weights = tff.learning.models.ModelWeights(
            trainable=[np.asarray(weights[n], dtype=np.float32) for n in names], non_trainable=[]
        )
        try:
            out = work.next(work.initialize(), [model_weights], [client_dataset(spec, x, y, seed)])
        except Exception as exc:  # TFF raises many kinds; report them as a training failure
            raise TrainingError(f"TFF client work failed: {exc}") from exc
    result = out.result[0]
    delta = {n: np.asarray(a, dtype=np.float32) for n, a in zip(names, result.update, strict=True)}
    train = dict(out.measurements.get("train", {}))
    metrics = {k: float(v) for k, v in train.items()}
    return delta, metrics


def fed_avg_round(
    spec: ModelSpec, weights: Weights, datasets: list[tuple[Array, Array]], seed: int
) -> Weights:
    """One round of ``build_weighted_fed_avg`` from ``weights`` (client i shuffled by seed + i)."""
    _, tff = modules()
    names = [name for name, _ in layer_shapes(spec)]
    with _lock:
        process = tff.learning.algorithms.build_weighted_fed_avg(
            _model_fn(spec),
            client_optimizer_fn=tff.learning.optimizers.build_sgdm(
                learning_rate=spec.plan.learning_rate
            ),
            server_optimizer_fn=tff.learning.optimizers.build_sgdm(
                learning_rate=spec.plan.server_learning_rate
            ),
        )
        state = process.initialize()
        state = process.set_model_weights(
            state,
            tff.learning.models.ModelWeights(
                trainable=[np.asarray(weights[n], dtype=np.float32) for n in names],
                non_trainable=[],
            ),
        )
        data = [client_dataset(spec, x, y, seed + i) for i, (x, y) in enumerate(datasets)]
        out = process.next(state, data)
        trained = process.get_model_weights(out.state).trainable
    return {n: np.asarray(a, dtype=np.float32) for n, a in zip(names, trained, strict=True)}


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _exited(pid: int) -> bool:
    """True once ``pid`` is gone or a zombie (it has exited and closed its files)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] in ("Z", "X")


def _wait_exited(pids: list[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    pending = [pid for pid in pids if not _exited(pid)]
    while pending and time.monotonic() < deadline:
        time.sleep(0.05)
        pending = [pid for pid in pending if not _exited(pid)]
    return pending
