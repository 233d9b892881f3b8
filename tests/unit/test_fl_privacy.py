"""DP-SGD (per-example clipping, Poisson sampling, Gaussian noise), its accounting, and the
privacy term a task declares on chain."""

from __future__ import annotations

import numpy as np
import pytest
from decentralml.core.errors import InputError, ModelSpecError
from decentralml.core.fl.accounting import (
    Spend,
    dpsgd_epsilon,
    rounds_within,
    spent_bound,
)
from decentralml.core.fl.spec import DPConfig, DPSGDConfig, ModelSpec, TrainingPlan
from decentralml.core.privacy import PrivacyTerms

DP = DPSGDConfig(clip=1.0, noise_multiplier=1.5, sampling_rate=0.2)


def _spec(dp: DPSGDConfig, lr: float = 0.5) -> ModelSpec:
    return ModelSpec("mlp", (4,), 3, plan=TrainingPlan(local_epochs=1, learning_rate=lr, dp_sgd=dp))


def _data(n: int = 40) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    return rng.normal(size=(n, 4)).astype(np.float32), rng.integers(0, 3, n).astype(np.int32)


def _weights(spec: ModelSpec) -> dict[str, np.ndarray]:
    from decentralml.core.fl import initial_weights

    return initial_weights(spec, 0)


def test_one_full_batch_step_is_the_mean_gradient_when_nothing_is_clipped() -> None:
    import tensorflow as tf
    from decentralml.core.fl.dpsgd import dpsgd_update
    from decentralml.core.fl.tff_client import keras_model

    spec = _spec(DPSGDConfig(clip=1e3, noise_multiplier=1e-9, sampling_rate=1.0))
    weights = _weights(spec)
    x, y = _data()
    delta = dpsgd_update(spec, weights, x, y, seed=1, noise_seed=2)
    model = keras_model(spec)
    for var, name in zip(model.trainable_variables, weights, strict=True):
        var.assign(weights[name])
    with tf.GradientTape() as tape:
        loss = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, model(x))
    grads = tape.gradient(loss, model.trainable_variables)
    for g, name in zip(grads, weights, strict=True):
        np.testing.assert_allclose(delta[name], 0.5 * g.numpy(), rtol=1e-4, atol=1e-6)


def test_each_example_is_clipped_so_a_step_moves_at_most_lr_times_clip() -> None:
    from decentralml.core.fl.dpsgd import dpsgd_update

    spec = _spec(DPSGDConfig(clip=1e-3, noise_multiplier=1e-9, sampling_rate=1.0))
    x, y = _data()
    delta = dpsgd_update(spec, _weights(spec), x, y, seed=1, noise_seed=2)
    norm = float(np.sqrt(sum(np.sum(np.square(v, dtype=np.float64)) for v in delta.values())))
    assert 0 < norm <= 0.5 * 1e-3 * (1 + 1e-4)


def test_the_noise_is_secret_unless_a_seed_is_given() -> None:
    from decentralml.core.fl.dpsgd import dpsgd_update

    spec = _spec(DP)
    x, y = _data()
    weights = _weights(spec)
    same = [dpsgd_update(spec, weights, x, y, seed=1, noise_seed=5) for _ in range(2)]
    fresh = [dpsgd_update(spec, weights, x, y, seed=1) for _ in range(2)]
    name = next(iter(weights))
    np.testing.assert_array_equal(same[0][name], same[1][name])
    assert not np.array_equal(fresh[0][name], fresh[1][name])


def test_accounting_composes_rounds_and_finds_the_rounds_within_a_budget() -> None:
    one = dpsgd_epsilon([Spend.of(0, DP, 1)], 1e-5)
    two = dpsgd_epsilon([Spend.of(0, DP, 1), Spend.of(1, DP, 1)], 1e-5)
    assert 0 < one < two
    assert dpsgd_epsilon([], 1e-5) == 0.0
    rounds = rounds_within(DP, 1, 1e-5, 8.0)
    within = dpsgd_epsilon([Spend.of(r, DP, 1) for r in range(rounds)], 1e-5)
    beyond = dpsgd_epsilon([Spend.of(r, DP, 1) for r in range(rounds + 1)], 1e-5)
    assert within <= 8.0 < beyond
    plan = TrainingPlan(local_epochs=1, dp_sgd=DP)
    assert spent_bound("dp-sgd", plan, rounds, 1e-5) == pytest.approx(within)
    assert spent_bound("secagg", plan, rounds, 1e-5) is None
    fedavg = TrainingPlan(dp=DPConfig(clip=1.0, noise_multiplier=1.0))
    assert spent_bound("dp-fedavg", fedavg, 20, 1e-5) == pytest.approx(30.1, abs=0.1)
    with pytest.raises(InputError, match="malformed privacy ledger"):
        Spend.from_json({"round": 0})


def test_the_plan_takes_dp_sgd_or_dp_fedavg_not_both() -> None:
    spec = _spec(DP)
    assert ModelSpec.from_bytes(spec.to_bytes()) == spec
    with pytest.raises(ModelSpecError, match="two modes"):
        TrainingPlan(dp=DPConfig(1.0, 1.0), dp_sgd=DP)
    with pytest.raises(ModelSpecError, match="sampling_rate"):
        DPSGDConfig(clip=1.0, noise_multiplier=1.0, sampling_rate=0.0)
    raw = spec.to_dict()
    raw["plan"]["dp_sgd"] = {"clip": 1.0, "noise_multiplier": 1.0}
    with pytest.raises(ModelSpecError, match="exactly clip, noise_multiplier and sampling_rate"):
        ModelSpec.from_dict(raw)


def test_the_privacy_term_round_trips_through_its_chain_form_and_refuses_what_it_cannot_hold() -> (
    None
):
    terms = PrivacyTerms("dp-sgd", max_epsilon=8.0, delta=1e-5)
    assert terms.to_chain() == {"DpSgd": {"max_epsilon": 8000, "delta": 10_000}}
    assert PrivacyTerms.from_chain(terms.to_chain()) == terms
    assert PrivacyTerms.from_chain("SecureAggregation").mode == "secagg"
    assert PrivacyTerms.from_chain(None).mode == "none"
    assert terms.describe(3.14159) == "DP-SGD, epsilon 3.14 of 8 at delta 1e-05"
    for bad, message in (
        (dict(mode="dp-sgd"), "needs --max-epsilon"),
        (dict(mode="dp-fedavg", max_epsilon=1.2345, delta=1e-5), "3 decimals"),
        (dict(mode="dp-sgd", max_epsilon=8.0, delta=1e-12), "billionths"),
        (dict(mode="secagg", max_epsilon=8.0), "takes no epsilon budget"),
        (dict(mode="private"), "unknown privacy mode"),
    ):
        with pytest.raises(InputError, match=message):
            PrivacyTerms(**bad)  # type: ignore[arg-type]
