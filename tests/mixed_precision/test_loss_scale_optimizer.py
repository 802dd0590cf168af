"""LossScaleOptimizer: tf-keras's dynamic rule (start at 2**15, double after `dynamic_growth_steps` finite steps,
halve and skip the step on inf/NaN), exact unscaling, and the wrapped optimizer's state and config."""
import numpy as np
import pytest
import torch

from fitgen import mixed_precision, optimizers
from fitgen.layers import Activation, Dense
from fitgen.mixed_precision import LossScaleOptimizer
from fitgen.models import Sequential


def _model(optimizer, policy=None):
    mixed_precision.set_global_policy(policy)
    torch.manual_seed(0)
    model = Sequential([Dense(6, activation="relu", input_shape=(4,)), Dense(3),
                        Activation("softmax", dtype="float32")])
    mixed_precision.set_global_policy(None)
    model.compile(optimizer, "categorical_crossentropy")
    return model


def _data(rows=8, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((rows, 4)).astype("float32"), np.eye(3, dtype="float32")[rng.integers(0, 3, rows)]


def test_defaults_and_compile_wraps_the_optimizer_under_mixed_float16():
    model = _model("adam", "mixed_float16")
    assert isinstance(model.optimizer, LossScaleOptimizer)
    assert model.optimizer.dynamic and float(model.optimizer.loss_scale) == 2.0 ** 15
    assert model.optimizer.dynamic_growth_steps == 2000
    assert isinstance(model.optimizer.inner_optimizer, optimizers.Adam)
    assert not isinstance(_model("adam", "mixed_bfloat16").optimizer, LossScaleOptimizer)


def test_scaling_is_exact_so_float32_training_is_unchanged():
    x, y = _data(32)
    plain, scaled = _model(optimizers.Adam(0.01)), _model(LossScaleOptimizer(optimizers.Adam(0.01)))
    scaled.set_weights(plain.get_weights())
    plain.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)
    scaled.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)
    for a, b in zip(plain.get_weights(), scaled.get_weights()):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(plain.optimizer.get_weights(), scaled.optimizer.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("policy", [None, "mixed_float16"])
def test_an_overflow_step_is_skipped_and_the_scale_halved_without_touching_weights(policy):
    model = _model(LossScaleOptimizer(optimizers.Adam(0.01), dynamic_growth_steps=3), policy)
    optimizer = model.optimizer
    x, y = _data()
    model.train_on_batch(x, y)
    assert int(optimizer.iterations) == 1 and float(optimizer.loss_scale) == 2.0 ** 15
    weights, slots = model.get_weights(), optimizer.get_weights()[1:]
    bad = x.copy()
    bad[0, 0] = np.inf  # an inf input: inf/NaN gradients
    model.train_on_batch(bad, y)
    assert float(optimizer.loss_scale) == 2.0 ** 14 and optimizer.dynamic_counter == 0
    assert int(optimizer.iterations) == 2  # the skipped step counts, as in tf-keras
    for before, after in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(before, after)
    for before, after in zip(slots, optimizer.get_weights()[1:]):
        np.testing.assert_array_equal(before, after)
    for step in range(3):  # finite steps again: weights move, and after 3 of them the scale doubles
        model.train_on_batch(x, y)
        assert optimizer.dynamic_counter == (step + 1) % 3
    assert float(optimizer.loss_scale) == 2.0 ** 15
    assert all(np.all(np.isfinite(w)) for w in model.get_weights())
    assert not np.array_equal(weights[0], model.get_weights()[0])


def test_the_scale_never_drops_below_one_and_a_static_scale_stays():
    optimizer = LossScaleOptimizer("sgd", initial_scale=2.0)
    for _ in range(3):
        optimizer._update_scale(False)
    assert float(optimizer.loss_scale) == 1.0
    static = LossScaleOptimizer("sgd", dynamic=False, initial_scale=64)
    static._update_scale(False)
    assert float(static.loss_scale) == 64.0 and static.dynamic_counter is None
    with pytest.raises(ValueError, match="initial_scale"):
        LossScaleOptimizer("sgd", dynamic=False)


def test_tf_keras_style_custom_step_helpers():
    optimizer = LossScaleOptimizer(optimizers.SGD(0.1), initial_scale=8.0)
    weight = torch.nn.Parameter(torch.ones(3))
    loss = (weight * 2.0).sum()
    scaled = optimizer.get_scaled_loss(loss)
    assert float(scaled.detach()) == 48.0
    (grad,) = torch.autograd.grad(scaled, [weight])
    unscaled = optimizer.get_unscaled_gradients([grad])
    optimizer.apply_gradients(zip(unscaled, [weight]))
    np.testing.assert_allclose(weight.detach().numpy(), [0.8, 0.8, 0.8], rtol=1e-6)


def test_config_round_trips_in_tf_keras_form():
    optimizer = LossScaleOptimizer(optimizers.RMSprop(0.002), dynamic_growth_steps=10)
    config = optimizers.serialize(optimizer, use_legacy_format=True)
    assert config["class_name"] == "LossScaleOptimizerV3"
    assert config["config"]["inner_optimizer"]["class_name"] == "RMSprop"
    assert config["config"]["initial_scale"] == 32768.0 and config["config"]["dynamic_growth_steps"] == 10
    restored = optimizers.deserialize(config)
    assert isinstance(restored, LossScaleOptimizer) and restored.dynamic_growth_steps == 10
    assert isinstance(restored.inner_optimizer, optimizers.RMSprop)
    np.testing.assert_allclose(float(restored.learning_rate), 0.002)
    old = {"class_name": "LossScaleOptimizer", "config": {
        "optimizer": {"class_name": "SGD", "config": {"learning_rate": 0.5}},
        "loss_scale": {"class_name": "DynamicLossScale", "config": {"initial_loss_scale": 1024.0,
                                                                    "increment_period": 100, "multiplier": 2.0}}}}
    legacy = optimizers.deserialize(old)
    assert float(legacy.loss_scale) == 1024.0 and legacy.dynamic_growth_steps == 100


def test_learning_rate_and_iterations_are_the_wrapped_optimizers():
    from fitgen import backend as K
    optimizer = LossScaleOptimizer(optimizers.Adam(0.01))
    K.set_value(optimizer.lr, 0.5)
    assert float(optimizer.inner_optimizer.learning_rate) == 0.5
    optimizer.iterations = 4
    assert int(optimizer.inner_optimizer.iterations) == 4
