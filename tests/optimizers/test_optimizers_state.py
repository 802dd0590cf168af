"""Optimizer state as Keras 2 code and saved files see it: lr / iterations Variables, weights, names, resume."""
import numpy as np
import pytest
import torch

from fitgen import backend as K
from fitgen import optimizers


def _grads(variables, seed):
    rng = np.random.default_rng(seed)
    for v in variables:
        v.set_keras_grad(rng.standard_normal(v.keras_value().shape))


def _train(optimizer, variables, steps, first_seed=0):
    for step in range(steps):
        _grads(variables, first_seed + step)
        optimizer.apply_gradients()


def test_weights_are_in_keras_layout_with_tf_keras_names(two_variables):
    optimizer = optimizers.Adam(0.01)
    optimizer.build(two_variables)
    _train(optimizer, two_variables, 2)
    assert optimizer.weight_names() == ["iteration:0", "Adam/m/dense/kernel:0", "Adam/v/dense/kernel:0",
                                        "Adam/m/dense/bias:0", "Adam/v/dense/bias:0"]
    weights = optimizer.get_weights()
    assert weights[0].dtype == np.int64 and weights[0].shape == () and int(weights[0]) == 2
    kernel = two_variables[0]
    assert kernel.tensor.shape == (4, 3)  # torch layout
    assert [w.shape for w in weights[1:]] == [(3, 4), (3, 4), (5,), (5,)]  # Keras layout
    np.testing.assert_array_equal(weights[1], optimizer._slots["m"][0].T.numpy())


@pytest.mark.parametrize("optimizer, names", [
    (optimizers.SGD(0.1), ["SGD/m/dense/kernel:0", "SGD/m/dense/bias:0"]),
    (optimizers.SGD(0.1, momentum=0.9), ["SGD/m/dense/kernel:0", "SGD/m/dense/bias:0"]),
    (optimizers.RMSprop(momentum=0.5, centered=True),
     ["RMSprop/velocity/dense/kernel:0", "RMSprop/velocity/dense/bias:0", "RMSprop/momentum/dense/kernel:0",
      "RMSprop/momentum/dense/bias:0", "RMSprop/average_gradient/dense/kernel:0",
      "RMSprop/average_gradient/dense/bias:0"]),
    (optimizers.RMSprop(), ["RMSprop/velocity/dense/kernel:0", "RMSprop/velocity/dense/bias:0"]),
    (optimizers.Adagrad(), ["Adagrad/accumulator/dense/kernel:0", "Adagrad/accumulator/dense/bias:0"]),
    (optimizers.Adadelta(), ["Adadelta/accumulated_grad/dense/kernel:0", "Adadelta/accumulated_delta_var/dense/kernel:0",
                             "Adadelta/accumulated_grad/dense/bias:0", "Adadelta/accumulated_delta_var/dense/bias:0"]),
    (optimizers.Adam(amsgrad=True, name="opt"), ["opt/m/dense/kernel:0", "opt/v/dense/kernel:0", "opt/m/dense/bias:0",
                                                 "opt/v/dense/bias:0", "opt/vhat/dense/kernel:0", "opt/vhat/dense/bias:0"]),
    (optimizers.Adamax(), ["Adamax/m/dense/kernel:0", "Adamax/u/dense/kernel:0", "Adamax/m/dense/bias:0",
                           "Adamax/u/dense/bias:0"]),
    (optimizers.Nadam(), ["Nadam/m/dense/kernel:0", "Nadam/v/dense/kernel:0", "Nadam/m/dense/bias:0",
                          "Nadam/v/dense/bias:0"]),
], ids=lambda x: type(x).__name__ if isinstance(x, optimizers.Optimizer) else None)
def test_weight_names_follow_tf_keras_creation_order(optimizer, names, two_variables):
    optimizer.build(two_variables)
    assert optimizer.weight_names() == ["iteration:0"] + names
    assert len(optimizer.get_weights()) == len(names) + 1


def test_adagrad_accumulators_start_at_initial_value(two_variables):
    optimizer = optimizers.Adagrad(initial_accumulator_value=0.25)
    optimizer.build(two_variables)
    assert all(np.all(w == np.float32(0.25)) for w in optimizer.get_weights()[1:])


@pytest.mark.parametrize("make", [lambda: optimizers.Adam(0.01, amsgrad=True),
                                  lambda: optimizers.SGD(0.1, momentum=0.9, nesterov=True),
                                  lambda: optimizers.RMSprop(0.01, momentum=0.2, centered=True),
                                  lambda: optimizers.Nadam(0.01), lambda: optimizers.Adadelta(1.0),
                                  lambda: optimizers.Adamax(0.01), lambda: optimizers.Adagrad(0.1)])
@pytest.mark.parametrize("via", ["weights", "weights_before_build", "state_dict"])
def test_resume_continues_exactly(make, via, stand_in):
    def fresh():
        rng = np.random.default_rng(3)
        return [stand_in(rng.standard_normal((3, 4)), "k", transposed=True), stand_in(rng.standard_normal(5), "b")]

    reference_vars, reference = fresh(), make()
    reference.build(reference_vars)
    _train(reference, reference_vars, 6)

    first_vars, first = fresh(), make()
    first.build(first_vars)
    _train(first, first_vars, 3)
    resumed = make()
    if via == "state_dict":
        resumed.build(first_vars)
        resumed.load_state_dict(first.state_dict())
    elif via == "weights":
        resumed.build(first_vars)
        resumed.set_weights(first.get_weights())
    else:
        resumed.set_weights(first.get_weights())
        resumed.build(first_vars)
    assert int(resumed.iterations) == 3
    _train(resumed, first_vars, 3, first_seed=3)
    for a, b in zip(reference_vars, first_vars):
        np.testing.assert_allclose(a.keras_value(), b.keras_value(), rtol=1e-6, atol=1e-7)
    for a, b in zip(reference.get_weights(), resumed.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_set_weights_validates_count_and_shapes(two_variables):
    optimizer = optimizers.Adam()
    optimizer.build(two_variables)
    weights = optimizer.get_weights()
    with pytest.raises(ValueError, match=r"expects 5 weights .* received 4"):
        optimizer.set_weights(weights[:-1])
    weights[1] = np.zeros((4, 3), np.float32)
    with pytest.raises(ValueError, match=r"Adam/m/dense/kernel:0 has shape \(3, 4\).*shape \(4, 3\)"):
        optimizer.set_weights(weights)


def test_pending_weights_are_validated_at_build(two_variables):
    optimizer = optimizers.SGD(momentum=0.9)
    optimizer.set_weights([np.int64(4)])
    with pytest.raises(ValueError, match="expects 3 weights"):
        optimizer.build(two_variables)


def test_lr_is_a_backend_variable_that_keras_code_can_get_and_set(two_variables):
    optimizer = optimizers.SGD(learning_rate=0.5)
    assert optimizer.lr is optimizer.learning_rate
    assert isinstance(optimizer.lr, K.Variable) and optimizer.lr.dtype == "float32"
    assert K.get_value(optimizer.lr) == np.float32(0.5)
    K.set_value(optimizer.lr, 0.25)
    assert float(optimizer.learning_rate) == 0.25
    optimizer.lr = 0.125
    assert K.get_value(optimizer.lr) == np.float32(0.125)
    optimizer.learning_rate = K.variable(0.1)
    assert float(optimizer.lr) == pytest.approx(0.1)
    optimizer.build(two_variables)
    before = two_variables[1].keras_value()
    two_variables[0].set_keras_grad(np.zeros((3, 4)))
    two_variables[1].set_keras_grad(np.ones(5))
    K.set_value(optimizer.lr, 0.5)
    optimizer.apply_gradients()
    np.testing.assert_allclose(two_variables[1].keras_value(), before - 0.5, rtol=1e-6)


def test_iterations_is_an_int64_backend_variable(two_variables):
    optimizer = optimizers.Adam()
    assert isinstance(optimizer.iterations, K.Variable) and optimizer.iterations.dtype == "int64"
    optimizer.build(two_variables)
    _train(optimizer, two_variables, 3)
    assert K.get_value(optimizer.iterations) == 3


def test_lr_alias_and_conflict():
    assert float(optimizers.Adam(lr=0.02).learning_rate) == pytest.approx(0.02)
    assert float(optimizers.Adam(learning_rate=0.02, lr=0.02).learning_rate) == pytest.approx(0.02)
    with pytest.raises(ValueError, match=r"Received: lr=0\.1, learning_rate=0\.2"):
        optimizers.Adam(learning_rate=0.2, lr=0.1)


def test_decay_is_keras_2_time_based(two_variables):
    optimizer = optimizers.SGD(0.1, decay=0.5)
    optimizer.build(two_variables)
    bias = two_variables[1]
    expected = bias.keras_value().astype(np.float64)
    for step in range(3):
        two_variables[0].set_keras_grad(np.zeros((3, 4)))
        bias.set_keras_grad(np.ones(5))
        optimizer.apply_gradients()
        expected -= 0.1 / (1 + 0.5 * step)
    np.testing.assert_allclose(bias.keras_value(), expected, rtol=1e-6)
    assert float(optimizer.lr) == pytest.approx(0.1)  # the base rate, as Keras 2 reports it


def test_schedule_drives_lr_and_cannot_be_overwritten_by_a_number(two_variables):
    schedule = optimizers.schedules.PiecewiseConstantDecay([1], [0.1, 0.01])
    optimizer = optimizers.SGD(learning_rate=schedule)
    assert float(optimizer.lr) == pytest.approx(0.1)
    optimizer.build(two_variables)
    _train(optimizer, two_variables, 3)
    assert float(optimizer.lr) == pytest.approx(0.01)  # schedule(2): the rate the last step used
    with pytest.raises(TypeError, match="LearningRateSchedule"):
        optimizer.lr = 0.5
    optimizer.learning_rate = optimizers.schedules.PiecewiseConstantDecay([100], [0.3, 0.2])
    assert float(optimizer.lr) == pytest.approx(0.3)


def test_variables_without_gradient_are_skipped(two_variables):
    optimizer = optimizers.Adam(0.1)
    optimizer.build(two_variables)
    kernel_before = two_variables[0].keras_value()
    two_variables[0].set_keras_grad(None)
    two_variables[1].set_keras_grad(np.ones(5))
    optimizer.apply_gradients()
    np.testing.assert_array_equal(two_variables[0].keras_value(), kernel_before)
    assert int(optimizer.iterations) == 1
    two_variables[1].set_keras_grad(None)
    with pytest.raises(ValueError, match=r"No gradients provided for any variable: \['dense/kernel', 'dense/bias'\]"):
        optimizer.apply_gradients()


def test_apply_gradients_requires_build_and_build_is_idempotent(two_variables, stand_in):
    optimizer = optimizers.SGD()
    with pytest.raises(ValueError, match="must be built"):
        optimizer.apply_gradients()
    optimizer.build(two_variables)
    slots = optimizer._slots["m"]
    optimizer.build(list(two_variables))
    assert optimizer._slots["m"] is slots
    with pytest.raises(ValueError, match="cannot be rebuilt"):
        optimizer.build([stand_in(np.zeros(2), "other")])
    with pytest.raises(ValueError, match="not built"):
        optimizers.Adam().weight_names()


def test_slots_follow_param_dtype_and_step_runs_without_autograd(stand_in):
    variable = stand_in(np.ones(4), "w")
    variable.tensor.data = variable.tensor.data.double()
    optimizer = optimizers.Adam(0.1)
    optimizer.build([variable])
    assert optimizer._slots["m"][0].dtype == torch.float64
    variable.tensor.grad = torch.ones(4, dtype=torch.float64)
    optimizer.apply_gradients()
    assert variable.tensor.grad_fn is None and variable.tensor.requires_grad


def test_weight_decay_can_exclude_variables(two_variables):
    optimizer = optimizers.SGD(1.0, weight_decay=0.1)
    optimizer.exclude_from_weight_decay(var_names=["bias"])
    optimizer.build(two_variables)
    kernel, bias = (v.keras_value() for v in two_variables)
    for v in two_variables:
        v.set_keras_grad(np.zeros(v.keras_value().shape))
    optimizer.apply_gradients()
    np.testing.assert_allclose(two_variables[0].keras_value(), kernel * 0.9, rtol=1e-6)
    np.testing.assert_array_equal(two_variables[1].keras_value(), bias)
    with pytest.raises(ValueError, match="before the optimizer is built"):
        optimizer.exclude_from_weight_decay(var_names=["kernel"])


@pytest.mark.parametrize("make, message", [
    (lambda: optimizers.SGD(-0.1), r"`learning_rate` must be >= 0. Received: learning_rate=-0.1"),
    (lambda: optimizers.SGD(0.1, momentum=1.5), r"`momentum` must be a float in \[0, 1\]. Received: momentum=1.5"),
    (lambda: optimizers.SGD(0.1, momentum=-0.1), r"Received: momentum=-0.1"),
    (lambda: optimizers.RMSprop(momentum=2.0), r"Received: momentum=2.0"),
    (lambda: optimizers.Adagrad(initial_accumulator_value=-1.0), r"initial_accumulator_value=-1.0"),
    (lambda: optimizers.Adam(clipnorm=1.0, global_clipnorm=1.0), r"At most one of `clipnorm` and `global_clipnorm`"),
    (lambda: optimizers.Adam(clipvalue=-1.0), r"`clipvalue` must be a non-negative number or None"),
    (lambda: optimizers.Adam(decay=-0.1), r"`decay` must be a non-negative number. Received: decay=-0.1"),
    (lambda: optimizers.Adam(use_ema=True), r"Expected use_ema=False"),
    (lambda: optimizers.Adam(gradient_aggregator=None), r"`gradient_aggregator` is not supported"),
])
def test_bad_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_unknown_argument_is_a_type_error():
    with pytest.raises(TypeError, match="'betas' is not a valid argument for Adam"):
        optimizers.Adam(betas=(0.9, 0.99))


def test_tf_keras_only_config_keys_are_accepted():
    optimizer = optimizers.Adam(weight_decay=None, use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                                jit_compile=True, is_legacy_optimizer=False, name="my_adam")
    assert optimizer.name == "my_adam" and optimizer.get_config()["jit_compile"] is False


def test_custom_optimizer_subclass(stand_in):
    class SignSGD(optimizers.Optimizer):
        def __init__(self, learning_rate=0.1, name="SignSGD", **kwargs):
            super().__init__(name=name, learning_rate=learning_rate, **kwargs)

        def _slot_specs(self):
            return [[("last_sign", 0.0)]]

        def _update(self, params, grads, slots, lr, step):
            signs = torch._foreach_sign(grads)
            torch._foreach_add_(params, signs, alpha=-lr)
            for slot, sign in zip(slots["last_sign"], signs):
                slot.copy_(sign)

    variable = stand_in(np.zeros(3), "w")
    optimizer = SignSGD(clipvalue=1.0)
    optimizer.build([variable])
    variable.set_keras_grad(np.array([2.0, -0.5, 0.0]))
    optimizer.apply_gradients()
    np.testing.assert_allclose(variable.keras_value(), [-0.1, 0.1, 0.0], rtol=1e-6)
    assert optimizer.weight_names() == ["iteration:0", "SignSGD/last_sign/w:0"]
    np.testing.assert_array_equal(optimizer.get_weights()[1], [1.0, -1.0, 0.0])
