"""TensorFlow Federated, imported lazily: the only module of the core that touches TF.

- :func:`client_update` runs the client update of TFF's ``build_model_delta_client_work``
  (the client half of FedAvg) on one trainer's data, in process, and returns
  ``initial - trained`` for each tensor; :func:`client_update_via_process` runs the client
  work process itself through TFF's execution context (the reference it is tested against).
- :func:`fed_avg_round` runs one round of ``tff.learning.algorithms.build_weighted_fed_avg`` on
  several datasets in process (a reference the tests compare ``local_update`` + ``aggregate``
  against).
- :func:`stop_workers` stops the C++ ``worker_binary`` child TFF starts for its execution
  context; it is registered with ``atexit`` on first use, so it always runs at exit (TFF only
  stops it in a destructor that usually does not run, and the orphan keeps our stdout open).

Built computations and models are cached per model spec (tracing costs seconds; a call after
that is the training steps, about 0.03-0.1 s for the demo models).
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import logging
import math
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
_client_state: dict[bytes, Any] = {}
_in_process: dict[bytes, InProcessClient] = {}


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
    # Drop TFF's execution context while the interpreter is still whole: its service
    # manager's destructor, run at shutdown, would otherwise fail on a module that is already
    # torn down ("Exception ignored ... 'NoneType' object has no attribute 'Popen'").
    try:
        from tensorflow_federated.python.core.impl.context_stack import (  # type: ignore[import-untyped]
            context_stack_impl,
            runtime_error_context,
        )

        context_stack_impl.context_stack.set_default_context(
            runtime_error_context.create_runtime_error_context()
        )
        gc.collect()
    except Exception:  # best effort at exit
        log.debug("could not drop the TFF execution context at exit", exc_info=True)


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


def initial_state(spec: ModelSpec) -> Any:
    """The client work's state (the optimizer's hyperparameters), computed once per spec.

    ``initialize`` is a TFF computation: calling it costs a round trip to the execution
    context's worker, and its result never changes for a spec.
    """
    key = spec.to_bytes()
    with _lock:
        if key not in _client_state:
            _client_state[key] = client_work(spec).initialize()
        return _client_state[key]


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


class InProcessClient:
    """TFF's client update for one spec, run in this process; built and traced once.

    ``build_model_delta_client_work`` wraps TFF's
    ``model_delta_client_work.build_model_delta_update_with_tff_optimizer`` (a
    ``tf.function``: assign the initial weights, one optimizer step per batch, return
    ``initial - trained``) in a TFF computation. Calling the process's ``next`` for one client
    ships the computation, the weights and the serialized dataset over gRPC to TFF's
    ``worker_binary``, which rebuilds the dataset from its graph: a fixed 40-60 ms a call,
    as much as the training itself for a demo-sized model. Here the same function runs in
    process with TFF's ``DATASET_ITERATOR`` loop (the steps inlined in one graph; TFF's
    default ``DATASET_REDUCE`` calls a function per batch, which is slower in process), on a
    model built once. ``tests/unit/test_fl_tff.py`` checks it equals the client work process
    and one round of ``build_weighted_fed_avg``.
    """

    def __init__(self, spec: ModelSpec) -> None:
        tf, tff = modules()
        from tensorflow_federated.python.learning.templates import (  # type: ignore[import-untyped]
            model_delta_client_work,
        )

        built: list[Any] = []
        make_model = _model_fn(spec)

        def model_fn() -> Any:
            built.append(make_model())
            return built[-1]

        self._tf = tf
        self._tff = tff
        self._update = model_delta_client_work.build_model_delta_update_with_tff_optimizer(
            model_fn,
            weighting=tff.learning.ClientWeighting.NUM_EXAMPLES,
            loop_implementation=tff.learning.LoopImplementation.DATASET_ITERATOR,
        )
        self._model = built[0]
        self._optimizer = tff.learning.optimizers.build_sgdm(learning_rate=spec.plan.learning_rate)
        self.names = [name for name, _ in layer_shapes(spec)]

    def run(self, weights: Weights, dataset: Any) -> tuple[Weights, dict[str, float]]:
        """``(initial - trained, train metrics)`` for ``dataset`` from ``weights``."""
        self._model.reset_metrics()
        initial = self._tff.learning.models.ModelWeights(
            trainable=[
                self._tf.constant(np.asarray(weights[n], dtype=np.float32)) for n in self.names
            ],
            non_trainable=[],
        )
        result, unfinalized = self._update(self._optimizer, initial, dataset)
        delta = {
            n: np.asarray(a.numpy(), dtype=np.float32)
            for n, a in zip(self.names, result.update, strict=True)
        }
        return delta, _finalize(unfinalized)


def _finalize(unfinalized: Any) -> dict[str, float]:
    # Keras mean metrics (loss, accuracy) report [total, count]; counters one value. (TFF's
    # own finalizers rebuild a Keras metric inside a tf.function on every call.)
    metrics: dict[str, float] = {}
    for name, value in unfinalized.items():
        parts = [float(np.asarray(v).sum()) for v in value] if isinstance(value, list) else []
        if len(parts) == 2:
            metrics[name] = parts[0] / parts[1] if parts[1] else math.nan
        else:
            metrics[name] = float(np.asarray(value).sum())
    return metrics


def in_process_client(spec: ModelSpec) -> InProcessClient:
    """The cached :class:`InProcessClient` for this spec."""
    key = spec.to_bytes()
    with _lock:
        if key not in _in_process:
            _in_process[key] = InProcessClient(spec)
        return _in_process[key]


def client_update(
    spec: ModelSpec, weights: Weights, x: Array, y: Array, seed: int
) -> tuple[Weights, dict[str, float]]:
    """One trainer's TFF client update: ``(delta = initial - trained, train metrics)``.

    Runs TFF's client-update function in process (:class:`InProcessClient`); the update
    draws no random numbers (the data order is the seeded numpy shuffle of
    :func:`client_dataset`), so no TF seed is set (``tf.random.set_seed`` also empties TF's
    kernel cache, which makes every call slower).
    """
    with _lock:
        client = in_process_client(spec)
        try:
            return client.run(weights, client_dataset(spec, x, y, seed))
        except Exception as exc:  # TF raises many kinds; report them as a training failure
            raise TrainingError(f"TFF client update failed: {exc}") from exc


def client_update_via_process(
    spec: ModelSpec, weights: Weights, x: Array, y: Array, seed: int
) -> tuple[Weights, dict[str, float]]:
    """The same update through ``build_model_delta_client_work``'s ``next`` (TFF's executor).

    The reference :func:`client_update` is tested against; it starts TFF's ``worker_binary``.
    """
    tf, tff = modules()
    names = [name for name, _ in layer_shapes(spec)]
    with _lock:
        work = client_work(spec)
        tf.random.set_seed(seed % (1 << 31))
        model_weights = tff.learning.models.ModelWeights(
            trainable=[np.asarray(weights[n], dtype=np.float32) for n in names], non_trainable=[]
        )
        try:
            data = client_dataset(spec, x, y, seed)
            out = work.next(initial_state(spec), [model_weights], [data])
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
