"""decentralml.core.fl against TensorFlow Federated itself (one module: TF imports once, ~20 s).

- the numpy forward pass equals the Keras network TFF trains (MLP and CNN);
- local_update (TFF's model-delta client update, run in process) equals the
  build_model_delta_client_work process run through TFF's executor, and local_update +
  aggregate("fedavg") equals one round of tff.learning.algorithms.build_weighted_fed_avg;
- the DP path equals TFF's DifferentiallyPrivateFactory.gaussian_fixed without noise;
- TFF's worker_binary child is stopped.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from decentralml.core.errors import DatasetMismatch
from decentralml.core.fl import (
    Dataset,
    DPConfig,
    ModelSpec,
    TrainingPlan,
    aggregate,
    demo_federation,
    evaluate,
    initial_weights,
    load_dataset,
    local_update,
    tff_client,
)
from decentralml.core.fl.models import layer_shapes, logits

pytestmark = pytest.mark.timeout(600)

Digits = tuple[list[Dataset], Dataset, ModelSpec]


@pytest.fixture(scope="module")
def digits() -> Iterator[Digits]:
    shards, test, spec = demo_federation("digits", 3, 0.5, seed=0)
    yield shards, test, spec
    tff_client.stop_workers()


@pytest.mark.parametrize(
    "spec",
    [ModelSpec("cnn", (8, 8, 1), 10, hidden=(4, 6)), ModelSpec("mlp", (64,), 10, hidden=(16, 8))],
    ids=["cnn", "mlp"],
)
def test_numpy_forward_pass_equals_keras(spec: ModelSpec) -> None:
    model = tff_client.keras_model(spec)
    assert [tuple(v.shape) for v in model.trainable_variables] == [s for _, s in layer_shapes(spec)]
    w = initial_weights(spec, 5)
    for name in w:
        w[name] = w[name] + np.float32(0.01)  # non-zero biases too
    model.set_weights(list(w.values()))
    x = np.random.default_rng(1).random((9, *spec.input_shape)).astype(np.float32)
    np.testing.assert_allclose(logits(spec, w, x), model(x).numpy(), rtol=1e-4, atol=1e-5)


def test_local_update_trains_on_the_local_data(digits: Digits) -> None:
    shards, _, spec = digits
    w = initial_weights(spec, 0)
    up = local_update(spec, w, shards[0], seed=7)
    assert list(up.delta) == list(w)
    assert all(up.delta[k].shape == w[k].shape and up.delta[k].dtype == np.float32 for k in w)
    assert up.samples == len(shards[0])
    before, _ = evaluate(spec, w, shards[0].x, shards[0].y)
    assert up.loss < before
    again = local_update(spec, w, shards[0], seed=7)
    for k in w:
        np.testing.assert_allclose(again.delta[k], up.delta[k], atol=1e-6)
    with pytest.raises(DatasetMismatch, match="shape"):
        local_update(spec, w, Dataset(shards[0].x.reshape(-1, 64), shards[0].y), seed=0)


def test_in_process_update_equals_the_client_work_process(digits: Digits) -> None:
    shards, _, spec = digits
    w = initial_weights(spec, 3)
    for i, shard in enumerate(shards[:2]):
        # 160 examples x 2 epochs = 20 SGD steps: equal to float rounding
        x, y = shard.x[:160], shard.y[:160]
        ours, metrics = tff_client.client_update(spec, w, x, y, 40 + i)
        theirs, reference = tff_client.client_update_via_process(spec, w, x, y, 40 + i)
        assert list(ours) == list(theirs)
        for k in ours:
            assert np.abs(ours[k]).max() > 1e-3
            np.testing.assert_allclose(ours[k], theirs[k], atol=1e-6)
        assert metrics.keys() == reference.keys()
        for k in metrics:
            assert metrics[k] == pytest.approx(reference[k], rel=1e-5)
        assert metrics["num_examples"] == spec.plan.local_epochs * len(x)
    # Over a whole shard (~80 steps) the two graphs' different float rounding (the worker's
    # grappler rewrites vs TF's in-process defaults) is amplified by SGD, but stays small.
    shard = shards[1]
    ours, _ = tff_client.client_update(spec, w, shard.x, shard.y, 7)
    theirs, _ = tff_client.client_update_via_process(spec, w, shard.x, shard.y, 7)
    diff = sum(float(np.sum((ours[k] - theirs[k]) ** 2)) for k in ours) ** 0.5
    norm = sum(float(np.sum(theirs[k] ** 2)) for k in ours) ** 0.5
    assert diff < 0.02 * norm


def test_local_update_plus_fedavg_equals_one_tff_round(digits: Digits) -> None:
    shards, _, _ = digits
    spec = ModelSpec(
        "cnn",
        (8, 8, 1),
        10,
        hidden=(8,),
        plan=TrainingPlan(
            local_epochs=2, batch_size=16, learning_rate=0.1, server_learning_rate=0.7
        ),
    )
    w = initial_weights(spec, 11)
    ours = aggregate(
        "fedavg",
        w,
        [(local_update(spec, w, s, seed=100 + i).delta, len(s)) for i, s in enumerate(shards)],
        plan=spec.plan,
        seed=b"",
    ).weights
    reference = tff_client.fed_avg_round(spec, w, [(s.x, s.y) for s in shards], seed=100)
    for k in w:
        assert np.abs(ours[k] - w[k]).max() > 1e-3  # the round moved the model
        np.testing.assert_allclose(ours[k], reference[k], atol=1e-5)


def test_dp_aggregate_equals_tff_gaussian_factory_without_noise() -> None:
    _, tff = tff_client.modules()
    rng = np.random.default_rng(3)
    base = {"a": np.zeros((3, 2), np.float32), "b": np.zeros(4, np.float32)}
    deltas = [
        {k: rng.normal(size=v.shape).astype(np.float32) for k, v in base.items()} for _ in range(4)
    ]
    clip = 1.5
    factory = tff.aggregators.DifferentiallyPrivateFactory.gaussian_fixed(
        noise_multiplier=0.0, clients_per_round=4, clip=clip
    )
    process = factory.create(tff.types.to_type([(np.float32, (3, 2)), (np.float32, (4,))]))
    out = process.next(process.initialize(), [[d["a"], d["b"]] for d in deltas])
    ours = aggregate(
        "fedavg",
        base,
        [(d, 1) for d in deltas],
        plan=TrainingPlan(dp=DPConfig(clip=clip, noise_multiplier=0.0)),
        seed=b"",
    )
    np.testing.assert_allclose(-ours.weights["a"], out.result[0], atol=1e-6)
    np.testing.assert_allclose(-ours.weights["b"], out.result[1], atol=1e-6)


def test_worker_binary_is_stopped(digits: Digits) -> None:
    shards, _, spec = digits
    w = initial_weights(spec, 0)
    tff_client.client_update_via_process(spec, w, shards[1].x, shards[1].y, 0)
    pids = tff_client.worker_pids()
    assert pids, "TFF should be running its worker_binary child"
    assert tff_client.stop_workers() == pids
    assert tff_client.worker_pids() == []
    # TFF starts a fresh worker when it is needed again
    tff_client.client_update_via_process(spec, w, shards[1].x, shards[1].y, 0)
    assert tff_client.worker_pids()
    local_update(spec, w, shards[1], seed=0)  # in process: still works after a stop


def test_image_folder_png_decoded_by_tensorflow(tmp_path: Path) -> None:
    tf, _ = tff_client.modules()
    spec = ModelSpec("cnn", (8, 8, 1), 10, hidden=(4,))
    rgb = np.zeros((8, 8, 3), np.uint8)
    rgb[:, :, 0] = 255  # pure red -> luma 76
    for label in ("3", "7"):
        (tmp_path / label).mkdir()
        (tmp_path / label / "a.png").write_bytes(tf.io.encode_png(rgb).numpy())
    ds = load_dataset(tmp_path, spec)
    assert ds.x.shape == (2, 8, 8, 1) and list(ds.y) == [3, 7]
    np.testing.assert_allclose(ds.x, 76 / 255, atol=1e-6)
    (tmp_path / "3" / "b.png").write_bytes(b"not a png")
    with pytest.raises(DatasetMismatch, match="cannot decode"):
        load_dataset(tmp_path, spec)
