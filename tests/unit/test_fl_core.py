"""decentralml.core.fl without TensorFlow: specs, weights files, aggregation, datasets, models."""

from __future__ import annotations

import io
import json
import math
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from decentralml.core.errors import (
    DatasetMismatch,
    ModelSpecError,
    TrainingError,
    UpdateRejected,
)
from decentralml.core.fl import (
    Dataset,
    DPConfig,
    ModelSpec,
    TrainingPlan,
    aggregate,
    decode_weights,
    demo_federation,
    encode_weights,
    evaluate,
    initial_weights,
    load_dataset,
    manifest_for,
    manifest_of,
    parse_rule,
    save_dataset,
)
from decentralml.core.fl.aggregate import dp_epsilon
from decentralml.core.fl.models import logits
from decentralml.core.fl.weights import Array, Weights

MLP = ModelSpec("mlp", (4,), 3, hidden=(5,), features=("a", "b", "c", "d"))
CNN = ModelSpec("cnn", (8, 8, 1), 10, hidden=(4, 6))


def _updates(n: int, base: Weights, seed: int = 1) -> list[tuple[Weights, int]]:
    rng = np.random.default_rng(seed)
    return [
        ({k: rng.normal(size=v.shape).astype(np.float32) for k, v in base.items()}, 10 + i)
        for i in range(n)
    ]


# ---- spec ---------------------------------------------------------------------------------
def test_spec_round_trips_canonically() -> None:
    spec = ModelSpec(
        "mlp",
        (4,),
        3,
        hidden=(5,),
        features=("a", "b", "c", "d"),
        plan=TrainingPlan(dp=DPConfig(clip=1.0, noise_multiplier=0.5)),
    )
    data = spec.to_bytes()
    assert ModelSpec.from_bytes(data) == spec
    assert ModelSpec.from_bytes(data).to_bytes() == data
    assert b" " not in data
    assert json.loads(data)["format"] == "decentralml-model/1"
    # Momentum 0 is left out of the canonical bytes (older specs keep theirs); set, it is kept.
    assert b"server_momentum" not in data
    moving = ModelSpec("mlp", (4,), 3, plan=TrainingPlan(server_momentum=0.7))
    assert ModelSpec.from_bytes(moving.to_bytes()).plan.server_momentum == 0.7


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b"not json", "not JSON"),
        (b"[]", "JSON object"),
        (b'{"kind":"rnn","input_shape":[4],"num_classes":2}', "kind"),
        (b'{"kind":"mlp","input_shape":[8,8,1],"num_classes":2}', "flat input"),
        (b'{"kind":"cnn","input_shape":[8],"num_classes":2,"hidden":[4]}', "images"),
        (b'{"kind":"cnn","input_shape":[8,8,1],"num_classes":2,"hidden":[4,4,4,4]}', "poolings"),
        (b'{"kind":"mlp","input_shape":[4],"num_classes":1}', "num_classes"),
        (b'{"kind":"mlp","input_shape":[0],"num_classes":2}', "input_shape"),
        (b'{"kind":"mlp","input_shape":[2],"num_classes":2,"features":["a"]}', "feature names"),
        (b'{"kind":"mlp","input_shape":[4],"num_classes":2,"evil":1}', "unknown"),
        (b'{"kind":"mlp","input_shape":[4],"num_classes":2,"plan":{"batch_size":0}}', "batch"),
        (
            b'{"kind":"mlp","input_shape":[4],"num_classes":2,"plan":{"learning_rate":-1}}',
            "positive",
        ),
        (b'{"kind":"mlp","input_shape":[4],"num_classes":2,"plan":{"dp":{"clip":1}}}', "dp"),
        (b'{"kind":"mlp","input_shape":[true],"num_classes":2}', "whole number"),
        (
            b'{"kind":"mlp","input_shape":[4],"num_classes":2,"plan":{"server_momentum":1}}',
            r"\[0, 1\)",
        ),
        (
            b'{"kind":"mlp","input_shape":[4],"num_classes":2,"plan":{"server_momentum":0.5,'
            b'"dp":{"clip":1,"noise_multiplier":1}}}',
            "do not go together",
        ),
    ],
)
def test_spec_rejects_bad_input(raw: bytes, fragment: str) -> None:
    with pytest.raises(ModelSpecError, match=fragment):
        ModelSpec.from_bytes(raw)


# ---- weights ------------------------------------------------------------------------------
def test_weights_encoding_is_deterministic_and_loads_without_pickle() -> None:
    w = initial_weights(CNN, 3)
    data = encode_weights(w)
    assert data == encode_weights(initial_weights(CNN, 3))
    assert data != encode_weights(initial_weights(CNN, 4))
    back = decode_weights(data, manifest_for(CNN))
    assert list(back) == list(w)
    for k in w:
        np.testing.assert_array_equal(back[k], w[k])
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:  # plain numpy reads it too
        np.testing.assert_array_equal(npz["conv_0/kernel"], w["conv_0/kernel"])
    assert manifest_of(back) == manifest_for(CNN)


def _rezip(data: bytes, edit: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            dst.writestr(info.filename, edit.get(info.filename, src.read(info.filename)))
    return out.getvalue()


def _npy(array: Array, allow_pickle: bool = False) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=allow_pickle)
    return buf.getvalue()


def test_decode_rejects_bad_weights() -> None:
    w = initial_weights(MLP, 0)
    good = encode_weights(w)
    manifest = manifest_for(MLP)
    nan = dict(w)
    nan["dense_0/bias"] = np.array([np.nan, 0, 0, 0, 0], dtype=np.float32)
    cases = {
        "not a weights file": b"garbage",
        "NaN or Inf": _rezip(good, {"dense_0/bias.npy": _npy(nan["dense_0/bias"])}),
        "dtype": _rezip(good, {"dense_0/bias.npy": _npy(np.zeros(5, dtype=np.float64))}),
        "shape": _rezip(good, {"dense_0/bias.npy": _npy(np.zeros(6, dtype=np.float32))}),
        "pickle|Object arrays|malformed": _rezip(
            good, {"dense_0/bias.npy": _npy(np.array([{}] * 5, dtype=object), allow_pickle=True)}
        ),
    }
    for fragment, data in cases.items():
        with pytest.raises(UpdateRejected, match=fragment):
            decode_weights(data, manifest)
    other = encode_weights(initial_weights(ModelSpec("mlp", (4,), 3, hidden=(6,)), 0))
    with pytest.raises(UpdateRejected, match="shape"):
        decode_weights(other, manifest)
    with pytest.raises(UpdateRejected, match="NaN"):
        encode_weights(nan)
    with pytest.raises(UpdateRejected, match="float32"):
        encode_weights({"a": np.zeros(3)})


# ---- aggregation --------------------------------------------------------------------------
def test_fedavg_is_the_weighted_mean_and_deterministic() -> None:
    base = initial_weights(MLP, 0)
    ups = _updates(5, base)
    plan = TrainingPlan(server_learning_rate=0.5)
    res = aggregate("fedavg", base, ups, plan=plan, seed=b"s")
    total = sum(n for _, n in ups)
    for k in base:
        mean = sum(d[k].astype(np.float64) * n for d, n in ups) / total
        np.testing.assert_allclose(res.weights[k], base[k] - 0.5 * mean, rtol=1e-6, atol=1e-6)
        assert res.weights[k].dtype == np.float32
    assert res.epsilon is None and res.updates == 5 and res.samples == total
    again = aggregate("fedavg", base, iter(ups), plan=plan, seed=b"s")  # a generator works too
    assert encode_weights(again.weights) == encode_weights(res.weights)


@pytest.mark.parametrize("rule", ["fedavg", "aligned", "median"])
def test_server_momentum_is_the_heavy_ball_step_and_deterministic(rule: str) -> None:
    base = initial_weights(MLP, 0)
    previous = {k: (v - 0.01).astype(np.float32) for k, v in base.items()}
    ups = _updates(5, base)
    plain = aggregate(rule, base, ups, plan=TrainingPlan(), seed=b"s")
    plan = TrainingPlan(server_momentum=0.7)
    res = aggregate(rule, base, ups, plan=plan, seed=b"s", previous=previous)
    for k in base:
        b64 = base[k].astype(np.float64)
        step = b64 - plain.weights[k].astype(np.float64)  # what the rule moved, in float32
        expected = b64 - step + 0.7 * (b64 - previous[k].astype(np.float64))
        np.testing.assert_allclose(res.weights[k], expected, rtol=0, atol=2e-7)
    again = aggregate(rule, base, iter(ups), plan=plan, seed=b"s", previous=dict(previous))
    assert encode_weights(again.weights) == encode_weights(res.weights)
    # Without the previous base (first round, or after a failed one) there is no momentum term.
    first = aggregate(rule, base, ups, plan=plan, seed=b"s")
    assert encode_weights(first.weights) == encode_weights(plain.weights)
    # A previous base of another shape is refused, not silently broadcast.
    wrong = {k: np.zeros((*v.shape[:-1], v.shape[-1] + 1), np.float32) for k, v in base.items()}
    with pytest.raises(TrainingError, match="previous round's base"):
        aggregate(rule, base, ups, plan=plan, seed=b"s", previous=wrong)


def test_robust_rules() -> None:
    base = {"w": np.zeros(3, dtype=np.float32)}
    vals = [1.0, 2.0, 3.0, 4.0, 100.0]
    ups = [({"w": np.full(3, v, dtype=np.float32)}, 1) for v in vals]
    plan = TrainingPlan()
    med = aggregate("median", base, ups, plan=plan, seed=b"")
    np.testing.assert_allclose(med.weights["w"], -3.0)
    # the median norm bounds 4 and 100 to 3 first: trimmed:20 averages 2, 3, 3
    trimmed = aggregate("trimmed:20", base, ups, plan=plan, seed=b"")
    np.testing.assert_allclose(trimmed.weights["w"], -8.0 / 3.0, rtol=1e-6)
    clipped = aggregate("clip:1000000", base, ups, plan=plan, seed=b"")  # each norm <= 1.0
    assert float(np.linalg.norm(clipped.weights["w"])) <= 1.0 + 1e-6
    fed = aggregate("fedavg", base, ups, plan=plan, seed=b"")
    np.testing.assert_allclose(fed.weights["w"], -22.0)


def _in_memory_reference(rule: str, base: Weights, ups: list[tuple[Weights, int]]) -> Weights:
    # The previous all-updates-in-memory implementation (np.stack per tensor), with each
    # update first scaled to at most the median update norm.
    count = len(ups)
    trim = math.floor(count * parse_rule(rule).trim)
    if count - 2 * trim < 1:
        trim = (count - 1) // 2
    norms = [
        math.sqrt(sum(float(np.sum(a.astype(np.float64) ** 2)) for a in d.values())) for d, _ in ups
    ]
    bound = float(np.median(norms))
    factors = [bound / n if n > bound else 1.0 for n in norms]
    out: Weights = {}
    for k, v in base.items():
        stack = np.stack(
            [d[k].astype(np.float64) * f for (d, _), f in zip(ups, factors, strict=True)],
            axis=0,
        )
        if rule == "median":
            combined = np.median(stack, axis=0)
        else:
            stack.sort(axis=0)
            combined = stack[trim : count - trim].mean(axis=0)
        out[k] = np.subtract(v.astype(np.float64), combined).astype(np.float32)
    return out


@pytest.mark.parametrize("rule", ["median", "trimmed:20", "trimmed:45", "trimmed:0"])
@pytest.mark.parametrize("n", [1, 2, 9, 12])
def test_coordinatewise_rules_in_chunks_give_the_same_bytes(rule: str, n: int) -> None:
    base = initial_weights(CNN, 0)
    ups = _updates(n, base, seed=n)
    reference = encode_weights(_in_memory_reference(rule, base, ups))
    params = manifest_of(base).parameters
    # chunk widths: one coordinate, an odd width that splits tensors, a few chunks, all at once
    # and one, two or three worker threads
    for chunk_bytes in (1, 8 * n * 37, 8 * n * (params // 3), 1 << 30):
        for workers in (1, 2, 3):
            res = aggregate(
                rule,
                base,
                iter(ups),
                plan=TrainingPlan(),
                seed=b"",
                chunk_bytes=chunk_bytes,
                workers=workers,
            )
            assert encode_weights(res.weights) == reference, (chunk_bytes, workers)
            assert res.updates == n and res.samples == sum(s for _, s in ups)


@pytest.mark.parametrize("rule", ["median", "trimmed:20"])
def test_coordinatewise_zero_is_positive_whatever_the_sort_order(rule: str) -> None:
    # -0.0 and +0.0 compare equal, so a sort may put either first; the result is +0.0 either way
    base = {"w": np.ones(3, dtype=np.float32)}
    columns = [[-0.0, 0.0, -0.0, 0.0, -0.0], [0.0, -0.0, 0.0, -0.0, 0.0], [-0.0] * 5]
    ups = [({"w": np.array(row, dtype=np.float32)}, 1) for row in np.array(columns).T]
    for workers in (1, 2):
        res = aggregate(
            rule,
            base,
            iter(ups),
            plan=TrainingPlan(server_learning_rate=1.0),
            seed=b"",
            workers=workers,
        )
        assert encode_weights(res.weights) == encode_weights(base)
    with pytest.raises(TrainingError, match="workers"):
        aggregate(rule, base, iter(ups), plan=TrainingPlan(), seed=b"", workers=0)


def test_coordinatewise_rules_bound_norms_by_the_median_norm() -> None:
    base = {"w": np.zeros(4, dtype=np.float32)}
    honest = [np.array([1.0, 1.0, -1.0, 2.0]) * s for s in (0.8, 0.9, 1.0, 1.1, 1.2)]
    boosted = honest[0] * -40.0  # a sign-flipped, boosted update
    ups = [({"w": a.astype(np.float32)}, 1) for a in [*honest, boosted]]
    plan = TrainingPlan()
    # trimmed:0 is the plain mean of the bounded updates: the boosted one counts with the
    # median norm (that of 1.0 x and 1.1 x the honest direction), not 40 x
    mean = aggregate("trimmed:0", base, ups, plan=plan, seed=b"").weights["w"]
    bound = 1.05
    expected = (
        -(sum(s for s in (0.8, 0.9, 1.0, 1.05, 1.05)) - bound) / 6 * np.array([1.0, 1.0, -1.0, 2.0])
    )
    np.testing.assert_allclose(mean, expected, rtol=1e-6)
    med = aggregate("median", base, ups, plan=plan, seed=b"").weights["w"]
    np.testing.assert_allclose(med, -0.95 * np.array([1.0, 1.0, -1.0, 2.0]), rtol=1e-6)


def test_bounded_is_fedavg_of_the_median_bounded_updates() -> None:
    base = initial_weights(CNN, 0)
    ups = _updates(7, base, seed=3)
    ups[0] = (
        {k: v * np.float32(-40.0) for k, v in ups[0][0].items()},
        500,
    )  # boosted, many samples
    norms = [
        math.sqrt(sum(float(np.sum(a.astype(np.float64) ** 2)) for a in d.values())) for d, _ in ups
    ]
    bound = float(np.median(norms))
    factors = [min(1.0, bound / n) for n in norms]
    total = sum(n for _, n in ups)
    plan = TrainingPlan(server_learning_rate=1.0)
    res = aggregate("bounded", base, iter(ups), plan=plan, seed=b"")
    assert res.updates == 7 and res.samples == total
    for k in base:
        mean = sum(d[k].astype(np.float64) * f * n for (d, n), f in zip(ups, factors, strict=True))
        mean /= total
        np.testing.assert_allclose(res.weights[k], base[k] - mean, rtol=1e-5, atol=1e-7)
    # the boosted update moves the model no further than a typical update would
    step = math.sqrt(sum(float(np.sum((res.weights[k] - base[k]) ** 2.0)) for k in base))
    assert step <= bound * 1.0001
    fed = aggregate("fedavg", base, ups, plan=plan, seed=b"").weights
    assert math.sqrt(sum(float(np.sum((fed[k] - base[k]) ** 2.0)) for k in base)) > 10 * bound


def test_bounded_with_equal_norms_gives_fedavg_bytes() -> None:
    # every factor is 1.0, so the spilled path must do exactly FedAvg's arithmetic
    base = initial_weights(MLP, 0)
    rng = np.random.default_rng(5)
    one = {k: rng.normal(size=v.shape).astype(np.float32) for k, v in base.items()}
    ups = [
        ({k: v * np.float32(s) for k, v in one.items()}, 3 + i) for i, s in enumerate((1, -1, 1))
    ]
    plan = TrainingPlan(server_learning_rate=0.7)
    bounded = aggregate("bounded", base, iter(ups), plan=plan, seed=b"")
    fed = aggregate("fedavg", base, iter(ups), plan=plan, seed=b"")
    assert encode_weights(bounded.weights) == encode_weights(fed.weights)
    dp_plan = TrainingPlan(dp=DPConfig(clip=1.0, noise_multiplier=1.0))
    with pytest.raises(TrainingError, match="differential privacy"):
        aggregate("bounded", base, ups, plan=dp_plan, seed=b"")


def _aligned_reference(base: Weights, ups: list[tuple[Weights, int]]) -> Weights:
    # In memory: norm-bounded rows, their coordinate-wise median, cosine weights.
    rows = np.stack(
        [np.concatenate([d[k].astype(np.float64).ravel() for k in base]) for d, _ in ups]
    )
    norms = np.linalg.norm(rows, axis=1)
    bound = np.median(norms)
    factors = np.where(norms > bound, bound / np.maximum(norms, 1e-300), 1.0)
    median = np.median(rows * factors[:, None], axis=0)
    cosine = rows @ median / (norms * np.linalg.norm(median))
    weights = np.array([n for _, n in ups]) * factors * np.maximum(cosine, 0.0)
    step = (weights[:, None] * rows).sum(axis=0) / weights.sum()
    out: Weights = {}
    offset = 0
    for k, v in base.items():
        out[k] = (v.astype(np.float64) - step[offset : offset + v.size].reshape(v.shape)).astype(
            np.float32
        )
        offset += v.size
    return out


def test_aligned_weights_updates_by_agreement_with_the_median() -> None:
    base = initial_weights(CNN, 0)
    rng = np.random.default_rng(11)
    direction = {k: rng.normal(size=v.shape).astype(np.float32) for k, v in base.items()}
    ups = [
        ({k: v + np.float32(0.8) * rng.normal(size=v.shape).astype(np.float32) for k, v in
          direction.items()}, 20 + i)
        for i in range(6)
    ]  # fmt: skip
    flipped = {k: v * np.float32(-4.0) for k, v in ups[0][0].items()}
    plan = TrainingPlan(server_learning_rate=1.0)
    res = aggregate("aligned", base, [*ups, (flipped, 30)], plan=plan, seed=b"")
    reference = _aligned_reference(base, [*ups, (flipped, 30)])
    for k in base:
        np.testing.assert_allclose(res.weights[k], reference[k], rtol=1e-5, atol=1e-6)
    # the flipped update points away from the median: weight 0, so its sample count and its
    # size change nothing, byte for byte
    louder = {k: v * np.float32(10.0) for k, v in flipped.items()}
    other = aggregate("aligned", base, [*ups, (louder, 5000)], plan=plan, seed=b"")
    assert encode_weights(other.weights) == encode_weights(res.weights)
    assert res.samples == sum(n for _, n in ups) + 30 and res.updates == 7
    # bounded alone lets it pull: a different model
    bounded = aggregate("bounded", base, [*ups, (flipped, 30)], plan=plan, seed=b"")
    assert encode_weights(bounded.weights) != encode_weights(res.weights)
    # the same bytes for any chunking and thread count
    for chunk_bytes, workers in ((1, 1), (8 * 7 * 37, 2), (1 << 30, 3)):
        again = aggregate(
            "aligned", base, iter([*ups, (flipped, 30)]), plan=plan, seed=b"",
            chunk_bytes=chunk_bytes, workers=workers,
        )  # fmt: skip
        assert encode_weights(again.weights) == encode_weights(res.weights)


def test_aligned_falls_back_to_bounded_when_nothing_agrees() -> None:
    base = {"w": np.ones(4, dtype=np.float32)}
    zeros = [({"w": np.zeros(4, dtype=np.float32)}, 3), ({"w": np.zeros(4, dtype=np.float32)}, 4)]
    res = aggregate("aligned", base, zeros, plan=TrainingPlan(), seed=b"")
    assert encode_weights(res.weights) == encode_weights(base)
    # two opposite updates: the median is zero, so the bounded mean decides
    pair = [
        ({"w": np.full(4, 1.0, dtype=np.float32)}, 1),
        ({"w": np.full(4, -1.0, dtype=np.float32)}, 3),
    ]
    got = aggregate("aligned", base, pair, plan=TrainingPlan(server_learning_rate=1.0), seed=b"")
    np.testing.assert_allclose(got.weights["w"], 1.0 - (1.0 - 3.0) / 4)


def test_rules_grammar() -> None:
    assert parse_rule("trimmed:10").trim == pytest.approx(0.1)
    assert parse_rule(" Bounded ").kind == "bounded"
    assert parse_rule("aligned").kind == "aligned"
    assert parse_rule("clip:2500000").clip == pytest.approx(2.5)
    for bad in ("mean", "trimmed:50", "trimmed:x", "clip:0", "clip:1.5"):
        with pytest.raises(TrainingError):
            parse_rule(bad)


def test_aggregate_rejects_bad_updates_with_their_index() -> None:
    base = initial_weights(MLP, 0)
    ups = _updates(3, base)
    bad = dict(ups[2][0])
    bad["dense_0/bias"] = np.array([np.inf, 0, 0, 0, 0], dtype=np.float32)
    wrong = {k: v for k, v in ups[1][0].items() if k != "dense_1/bias"}
    plan = TrainingPlan()
    for rule in ("fedavg", "median", "bounded", "aligned"):
        with pytest.raises(UpdateRejected) as info:
            aggregate(rule, base, [ups[0], ups[1], (bad, 5)], plan=plan, seed=b"")
        assert info.value.index == 2
        with pytest.raises(UpdateRejected, match="names") as info:
            aggregate(rule, base, [ups[0], (wrong, 5)], plan=plan, seed=b"")
        assert info.value.index == 1
        with pytest.raises(UpdateRejected, match="sample count"):
            aggregate(rule, base, [(ups[0][0], 0)], plan=plan, seed=b"")
    with pytest.raises(TrainingError, match="no updates"):
        aggregate("fedavg", base, [], plan=plan, seed=b"")


def test_dp_noise_is_reproducible_from_the_seed_and_reports_epsilon() -> None:
    base = initial_weights(MLP, 0)
    ups = _updates(4, base)
    plan = TrainingPlan(dp=DPConfig(clip=0.5, noise_multiplier=1.0))
    a = aggregate("fedavg", base, ups, plan=plan, seed=b"round-7", rounds=3)
    b = aggregate("fedavg", base, ups, plan=plan, seed=b"round-7", rounds=3)
    c = aggregate("fedavg", base, ups, plan=plan, seed=b"round-8", rounds=3)
    assert encode_weights(a.weights) == encode_weights(b.weights)
    assert encode_weights(a.weights) != encode_weights(c.weights)
    assert a.epsilon is not None and 0 < a.epsilon < math_inf()
    assert plan.dp is not None
    assert a.epsilon == pytest.approx(dp_epsilon(plan.dp, 3))
    assert dp_epsilon(plan.dp, 30) > a.epsilon
    # without noise it is the unweighted mean of updates clipped to 0.5
    quiet = TrainingPlan(dp=DPConfig(clip=0.5, noise_multiplier=0.0))
    res = aggregate("fedavg", base, ups, plan=quiet, seed=b"")
    norms = [np.sqrt(sum(float((d[k].astype(np.float64) ** 2).sum()) for k in d)) for d, _ in ups]
    for k in base:
        mean = sum(
            d[k] * min(1.0, 0.5 / nrm) for (d, _), nrm in zip(ups, norms, strict=True)
        ) / len(ups)
        np.testing.assert_allclose(res.weights[k], base[k] - mean, atol=1e-6)
    with pytest.raises(TrainingError, match="differential privacy"):
        aggregate("median", base, ups, plan=plan, seed=b"")


def math_inf() -> float:
    return float("inf")


# ---- models -------------------------------------------------------------------------------
def test_models_shapes_and_evaluation() -> None:
    w = initial_weights(CNN, 0)
    assert [(k, v.shape) for k, v in w.items()] == [
        ("conv_0/kernel", (3, 3, 1, 4)),
        ("conv_0/bias", (4,)),
        ("conv_1/kernel", (3, 3, 4, 6)),
        ("conv_1/bias", (6,)),
        ("dense_0/kernel", (24, 10)),
        ("dense_0/bias", (10,)),
    ]
    x = np.random.default_rng(0).random((7, 8, 8, 1)).astype(np.float32)
    y = np.arange(7, dtype=np.int32)
    assert logits(CNN, w, x).shape == (7, 10)
    loss, acc = evaluate(CNN, w, x, y)
    assert loss > 0 and 0 <= acc <= 1
    with pytest.raises(DatasetMismatch, match="shape"):
        evaluate(CNN, w, x.reshape(7, 64), y)
    with pytest.raises(DatasetMismatch, match="labels"):
        evaluate(CNN, w, x, y + 5)


# ---- datasets -----------------------------------------------------------------------------
def test_load_csv_npz_and_rejections(tmp_path: Path) -> None:
    csv_path = tmp_path / "local.csv"
    csv_path.write_text("d,c,b,a,label,extra\n4,3,2,1,0,x\n8,7,6,5,2,y\n")
    (tmp_path / "local.csv.meta.json").write_text('{"jurisdiction": "EU"}')
    ds = load_dataset(csv_path, MLP)
    np.testing.assert_array_equal(ds.x, [[1, 2, 3, 4], [5, 6, 7, 8]])
    np.testing.assert_array_equal(ds.y, [0, 2])
    assert ds.jurisdiction == "EU" and ds.x.dtype == np.float32 and ds.y.dtype == np.int32

    npz_path = tmp_path / "local.npz"
    save_dataset(Dataset(ds.x, ds.y, "CH"), npz_path)
    back = load_dataset(npz_path, MLP)
    np.testing.assert_array_equal(back.x, ds.x)
    assert back.jurisdiction == "CH"

    bad = {
        "missing.csv": ("a,b,c,label\n1,2,3,0\n", "lacks the columns d"),
        "nan.csv": ("a,b,c,d,label\n1,2,nan,4,0\n", "NaN"),
        "inf.csv": ("a,b,c,d,label\n1,2,inf,4,0\n", "NaN or Inf"),
        "label.csv": ("a,b,c,d,label\n1,2,3,4,7\n", "labels must be 0..2"),
        "frac.csv": ("a,b,c,d,label\n1,2,3,4,0.5\n", "whole class"),
        "text.csv": ("a,b,c,d,label\n1,2,x,4,0\n", "could not convert"),
        "empty.csv": ("a,b,c,d,label\n", "no examples"),
    }
    for name, (text, fragment) in bad.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(DatasetMismatch, match=fragment):
            load_dataset(tmp_path / name, MLP)
    np.savez(tmp_path / "shape.npz", x=np.zeros((3, 5), np.float32), y=np.zeros(3, np.int32))
    with pytest.raises(DatasetMismatch, match="shape"):
        load_dataset(tmp_path / "shape.npz", MLP)
    np.savez(tmp_path / "obj.npz", x=np.array([{}, {}], dtype=object), y=np.zeros(2, np.int32))
    with pytest.raises(DatasetMismatch, match=r"pickle|Object"):
        load_dataset(tmp_path / "obj.npz", MLP)
    with pytest.raises(DatasetMismatch, match="image model"):
        load_dataset(tmp_path, MLP)
    with pytest.raises(DatasetMismatch, match="no dataset"):
        load_dataset(tmp_path / "absent.csv", MLP)


def test_declared_jurisdiction_is_a_country_code(tmp_path: Path) -> None:
    csv_path = tmp_path / "local.csv"
    csv_path.write_text("a,b,c,d,label\n1,2,3,4,0\n")
    meta = tmp_path / "local.csv.meta.json"
    meta.write_text('{"jurisdiction": "de"}')
    assert load_dataset(csv_path, MLP).jurisdiction == "DE"
    for value, fragment in (('"Germany"', "not an ISO 3166-1"), ("7", "country code")):
        meta.write_text(f'{{"jurisdiction": {value}}}')
        with pytest.raises(DatasetMismatch, match=fragment):
            load_dataset(csv_path, MLP)
    meta.unlink()
    npz_path = tmp_path / "inner.npz"
    np.savez(npz_path, x=np.ones((2, 4), np.float32), y=np.zeros(2, np.int32), jurisdiction="XX")
    with pytest.raises(DatasetMismatch, match=r"inner\.npz: invalid jurisdiction 'XX'"):
        load_dataset(npz_path, MLP)


def test_image_folder(tmp_path: Path) -> None:
    spec = ModelSpec("cnn", (4, 4, 1), 3, hidden=(2,))
    for label in ("0", "2"):
        (tmp_path / label).mkdir()
        for i in range(2):
            pixels = bytes(range(i * 16, i * 16 + 16))
            (tmp_path / label / f"{i}.pgm").write_bytes(b"P5\n4 4\n255\n" + pixels)
    np.save(tmp_path / "2" / "extra.npy", np.full((4, 4, 1), 0.5, dtype=np.float32))
    (tmp_path / "meta.json").write_text('{"jurisdiction": "US"}')
    ds = load_dataset(tmp_path, spec)
    assert ds.x.shape == (5, 4, 4, 1) and list(ds.y) == [0, 0, 2, 2, 2]
    assert ds.x.max() <= 1.0 and ds.jurisdiction == "US"
    (tmp_path / "0" / "big.pgm").write_bytes(b"P5\n5 4\n255\n" + bytes(20))
    with pytest.raises(DatasetMismatch, match="the model takes"):
        load_dataset(tmp_path, spec)


def test_demo_federation_is_non_iid_and_fits_its_spec() -> None:
    shards, test, spec = demo_federation("digits", 10, 0.5, seed=1)
    assert len(shards) == 10 and spec.kind == "cnn"
    assert sum(len(s) for s in shards) + len(test) == 1797
    for s in shards:
        assert len(s) >= 10 and s.x.shape[1:] == spec.input_shape
    # non-IID: each trainer's label histogram is far from uniform on average
    skews = [np.bincount(s.y, minlength=10).max() / len(s) for s in shards]
    assert np.mean(skews) > 0.2
    again, _, _ = demo_federation("digits", 10, 0.5, seed=1)
    assert all(np.array_equal(a.y, b.y) for a, b in zip(shards, again, strict=True))
    shards, test, spec = demo_federation("breast_cancer", 4, 1.0, seed=0)
    assert spec.kind == "mlp" and len(spec.features) == 30 and spec.num_classes == 2
    with pytest.raises(DatasetMismatch):
        demo_federation("imagenet", 4, 1.0, seed=0)


def test_importing_fl_does_not_import_tensorflow() -> None:
    code = (
        "import sys, decentralml.core.fl as fl\n"
        "from decentralml.core.fl import aggregate, data, models, spec, train, weights, tff_client\n"
        "sys.stdout.write(repr([m for m in ('tensorflow', 'tensorflow_federated') if m in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout == "[]"


def test_finite_checks_are_remembered_only_for_immutable_arrays() -> None:
    """Decoded tensors (read-only views into immutable bytes) are checked once; anything that
    could still change is checked every time, so a NaN written later is still caught."""
    import gc

    from decentralml.core.fl import weights as weights_module

    decoded = decode_weights(encode_weights({"a": np.ones(4, np.float32)}))
    assert id(decoded["a"]) in weights_module._KNOWN_FINITE
    writable = {"a": np.ones(4, np.float32)}
    weights_module.check_finite(writable)
    assert id(writable["a"]) not in weights_module._KNOWN_FINITE
    writable["a"][2] = np.nan
    with pytest.raises(UpdateRejected, match="NaN"):
        weights_module.check_finite(writable)
    key = id(decoded["a"])
    del decoded
    gc.collect()
    assert key not in weights_module._KNOWN_FINITE
