"""Gradient clipping edge cases, as tf-keras: precedence, zero gradients, non-finite global norms."""
import numpy as np
import pytest

from fitgen import optimizers


def _step(optimizer, stand_in, grads):
    variables = [stand_in(np.zeros(np.shape(g)), f"w{i}") for i, g in enumerate(grads)]
    optimizer.build(variables)
    for v, g in zip(variables, grads):
        v.set_keras_grad(g)
    optimizer.apply_gradients()
    return [v.keras_value() for v in variables]


def test_clipnorm_is_per_variable(stand_in):
    (a, b) = _step(optimizers.SGD(1.0, clipnorm=1.0), stand_in, [np.array([3.0, 4.0]), np.array([0.3, 0.4])])
    np.testing.assert_allclose(a, [-0.6, -0.8], rtol=1e-6)
    np.testing.assert_allclose(b, [-0.3, -0.4], rtol=1e-6)


def test_global_clipnorm_scales_all_gradients_together(stand_in):
    (a, b) = _step(optimizers.SGD(1.0, global_clipnorm=1.0), stand_in, [np.array([3.0, 0.0]), np.array([4.0])])
    np.testing.assert_allclose(a, [-0.6, 0.0], rtol=1e-6)
    np.testing.assert_allclose(b, [-0.8], rtol=1e-6)


def test_clipnorm_takes_precedence_over_clipvalue(stand_in):
    (a,) = _step(optimizers.SGD(1.0, clipnorm=5.0, clipvalue=0.1), stand_in, [np.array([3.0, 4.0])])
    np.testing.assert_allclose(a, [-3.0, -4.0], rtol=1e-6)
    (a,) = _step(optimizers.SGD(1.0, clipvalue=0.1), stand_in, [np.array([3.0, -4.0, 0.05])])
    np.testing.assert_allclose(a, [-0.1, 0.1, -0.05], rtol=1e-6)


@pytest.mark.parametrize("kwargs", [{"clipnorm": 1.0}, {"global_clipnorm": 1.0}])
def test_zero_gradients_stay_finite(stand_in, kwargs):
    (a,) = _step(optimizers.SGD(1.0, **kwargs), stand_in, [np.zeros(3)])
    np.testing.assert_array_equal(a, np.zeros(3))


def test_non_finite_global_norm_gives_nan_like_tf(stand_in):
    (a, b) = _step(optimizers.SGD(1.0, global_clipnorm=1.0), stand_in, [np.array([np.inf, 1.0]), np.array([1.0])])
    assert np.isnan(a).all() and np.isnan(b).all()
