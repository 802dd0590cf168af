"""The compiled train step (jit_compile=True) holds the whole step: the optimizer's update, its per-step numbers,
weight constraints and buffers are in the graph and give the eager step's numbers; what cannot be one graph falls
back with one warning and the eager numbers.

The graphs run with the "eager" backend (the traced graph op by op, no inductor compile): what is tested is the
graph, its inputs and its writes; test_jit_compile.py runs one model through inductor.
"""
import warnings

import numpy as np
import pytest
import torch

from fitgen import callbacks, constraints, optimizers
from fitgen.engine import jit
from fitgen.layers import BatchNormalization, Dense, Dropout, Layer
from fitgen.models import Sequential
from fitgen.optimizers import schedules


@pytest.fixture(autouse=True)
def traced_graph_backend(monkeypatch):
    monkeypatch.setattr(jit, "BACKEND", "eager")


def _data(n=80, features=5, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, features)).astype("float32")
    return x, rng.integers(0, classes, n)


def _train(build, jit_compile, x, y, **fit_kwargs):
    torch.manual_seed(7)
    model = build()
    model.compile(model._test_optimizer(), "sparse_categorical_crossentropy", ["acc"], jit_compile=jit_compile)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="jit_compile")
        history = model.fit(x, y, verbose=0, shuffle=False, **fit_kwargs)
    return model, history.history


def _mlp(make_optimizer, dropout=0.0, **dense_kwargs):
    def build():
        layers = [Dense(8, activation="relu", input_shape=(5,), **dense_kwargs)]
        if dropout:
            layers.append(Dropout(dropout))
        model = Sequential(layers + [Dense(3, activation="softmax")])
        model._test_optimizer = make_optimizer
        return model
    return build


def _assert_same(eager, compiled, rtol=1e-5):
    (eager_model, eager_history), (model, history) = eager, compiled
    assert list(history) == list(eager_history)
    for key in history:
        np.testing.assert_allclose(history[key], eager_history[key], rtol=rtol, atol=1e-6, err_msg=key)
    for mine, reference in zip(model.get_weights() + model.optimizer.get_weights(),
                               eager_model.get_weights() + eager_model.optimizer.get_weights()):
        np.testing.assert_allclose(mine, reference, rtol=rtol, atol=1e-6)


OPTIMIZERS = {
    "sgd": lambda: optimizers.SGD(0.05),
    "sgd_nesterov_decay": lambda: optimizers.SGD(0.05, momentum=0.9, nesterov=True, decay=0.01),
    "rmsprop_centered_momentum": lambda: optimizers.RMSprop(0.01, momentum=0.5, centered=True),
    "adam_weight_decay_clipnorm": lambda: optimizers.Adam(0.01, weight_decay=0.05, clipnorm=0.5),
    "adam_amsgrad_adaptive_epsilon": lambda: optimizers.Adam(0.01, amsgrad=True, adaptive_epsilon=True),
    "adam_schedule": lambda: optimizers.Adam(schedules.ExponentialDecay(0.02, decay_steps=3, decay_rate=0.5)),
    "adamax_global_clipnorm": lambda: optimizers.Adamax(0.02, global_clipnorm=0.3),
    "nadam": lambda: optimizers.Nadam(0.01),
    "adagrad_clipvalue": lambda: optimizers.Adagrad(0.1, clipvalue=0.05),
    "adadelta": lambda: optimizers.Adadelta(1.0),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_every_optimizer_updates_inside_the_graph_with_the_eager_numbers(name):
    x, y = _data()
    build = _mlp(OPTIMIZERS[name], dropout=0.25)
    eager = _train(build, False, x, y, batch_size=16, epochs=3)
    compiled = _train(build, True, x, y, batch_size=16, epochs=3)
    _assert_same(eager, compiled)
    step = compiled[0]._train_step.jit
    assert step.traced.update is True
    assert step.compiled_steps == 3 * 5 - 1  # all but the very first batch
    assert int(compiled[0].optimizer.iterations) == 15


def test_a_learning_rate_set_by_a_callback_reaches_the_compiled_step():
    x, y = _data()
    build = _mlp(lambda: optimizers.SGD(0.1))

    def train(jit_compile):
        torch.manual_seed(7)
        model = build()
        model.compile(model._test_optimizer(), "sparse_categorical_crossentropy", jit_compile=jit_compile)
        scheduler = callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.1 if epoch else lr)
        history = model.fit(x, y, batch_size=16, epochs=3, verbose=0, shuffle=False, callbacks=[scheduler])
        return model, history.history

    eager, compiled = train(False), train(True)
    _assert_same(eager, compiled)
    np.testing.assert_allclose(compiled[1]["lr"], [0.1, 0.01, 0.001], rtol=1e-6)
    # A learning rate of zero freezes the compiled step's weights: the value is read at every step.
    model = compiled[0]
    model.optimizer.learning_rate = 0.0
    before = model.get_weights()
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    for after, was in zip(model.get_weights(), before):
        np.testing.assert_array_equal(after, was)


def test_optimizer_state_set_between_fits_is_what_the_compiled_step_continues_from():
    x, y = _data()
    build = _mlp(lambda: optimizers.Adam(0.01))
    eager, compiled = _train(build, False, x, y, batch_size=16, epochs=1), _train(build, True, x, y, batch_size=16,
                                                                                      epochs=1)
    state = eager[0].optimizer.get_weights()
    state[0] = np.asarray(100, dtype=np.int64)  # a later step: other bias corrections
    for model, _ in (eager, compiled):
        model.optimizer.set_weights(state)
        model.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False)
    _assert_same((eager[0], {}), (compiled[0], {}))
    assert int(compiled[0].optimizer.iterations) == 105


def test_constraints_and_batch_norm_statistics_are_updated_by_the_graph():
    x, y = _data()

    def build():
        # No bias before BatchNormalization: its gradient is rounding noise that RMSprop would amplify.
        model = Sequential([Dense(8, input_shape=(5,), use_bias=False, kernel_constraint=constraints.MaxNorm(0.2)),
                            BatchNormalization(), Dense(3, activation="softmax",
                                                        kernel_constraint=constraints.NonNeg())])
        model._test_optimizer = lambda: optimizers.RMSprop(0.05)
        return model

    eager = _train(build, False, x, y, batch_size=16, epochs=2)
    compiled = _train(build, True, x, y, batch_size=16, epochs=2)
    _assert_same(eager, compiled)
    assert compiled[0]._train_step.jit.traced.update is True
    kernel = compiled[0].layers[2].get_weights()[0]
    assert np.linalg.norm(compiled[0].layers[0].get_weights()[0], axis=0).max() <= 0.2 + 1e-6
    assert kernel.min() >= 0.0
    moving_mean = compiled[0].layers[1].get_weights()[2]
    assert np.abs(moving_mean).max() > 0  # the statistics moved


class _OwnUpdate(optimizers.Optimizer):
    """A user optimizer in the documented form: its own `_update` (plain SGD)."""

    def __init__(self, learning_rate=0.05, name="OwnUpdate", **kwargs):
        super().__init__(name=name, learning_rate=learning_rate, **kwargs)

    def _update(self, params, grads, slots, lr, step):
        torch._foreach_add_(params, grads, alpha=-lr)


def test_an_optimizer_with_its_own_update_gets_compiled_gradients_and_updates_eagerly():
    x, y = _data()
    build = _mlp(_OwnUpdate)
    eager = _train(build, False, x, y, batch_size=16, epochs=2)
    compiled = _train(build, True, x, y, batch_size=16, epochs=2)
    _assert_same(eager, compiled)
    step = compiled[0]._train_step.jit
    assert step.traced.update is False and step.compiled_steps == 9


class _RemembersItsInput(Layer):
    def call(self, inputs):
        self.last_input = inputs
        return inputs * 2.0


class _BranchesOnValues(Layer):
    def call(self, inputs):
        if float(inputs.detach().abs().max()) > 1e6:  # Python control flow on a tensor's value
            return inputs * 0.0
        return inputs


@pytest.mark.parametrize("layer, reason", [(_RemembersItsInput, "sets layer attributes"),
                                           (_BranchesOnValues, "cannot be compiled")])
def test_python_state_or_value_dependent_code_falls_back_with_one_warning(layer, reason):
    x, y = _data()

    def build():
        model = Sequential([Dense(4, input_shape=(5,)), layer(), Dense(3, activation="softmax")])
        model._test_optimizer = lambda: optimizers.SGD(0.05)
        return model

    eager = _train(build, False, x, y, batch_size=16, epochs=2)
    torch.manual_seed(7)
    model = build()
    model.compile(model._test_optimizer(), "sparse_categorical_crossentropy", ["acc"], jit_compile=True)
    with pytest.warns(UserWarning, match=reason) as record:
        history = model.fit(x, y, batch_size=16, epochs=2, verbose=0, shuffle=False).history
    assert len([w for w in record if "jit_compile" in str(w.message)]) == 1
    _assert_same(eager, (model, history))
    assert model._train_step.jit.compiled_steps == 0
    assert not isinstance(getattr(model.layers[1], "last_input", None), torch._subclasses.FakeTensor)


def test_a_stateful_rnn_trains_as_the_eager_step_does():
    # Its states advance once per batch whichever way the step runs (compiled or, after a warning, eager).
    from fitgen.layers import LSTM
    rng = np.random.default_rng(1)
    x = rng.standard_normal((32, 6, 3)).astype("float32")
    y = rng.integers(0, 2, 32)

    def train(jit_compile):
        torch.manual_seed(7)
        model = Sequential([LSTM(4, stateful=True, batch_input_shape=(8, 6, 3)), Dense(2, activation="softmax")])
        model.compile(optimizers.Adam(0.01), "sparse_categorical_crossentropy", jit_compile=jit_compile)
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            history = model.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False).history
        messages = [str(w.message) for w in record if "jit_compile" in str(w.message)]
        assert len(messages) == int(jit_compile) and all("stateful recurrent layers" in m for m in messages)
        return model, history

    eager, compiled = train(False), train(True)
    _assert_same(eager, compiled)
    for mine, reference in zip(compiled[0].layers[0].states, eager[0].layers[0].states):
        np.testing.assert_allclose(mine.detach().numpy(), reference.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_mixed_bfloat16_compiles_with_the_autocast_casts_in_the_graph():
    from fitgen import mixed_precision
    from fitgen.layers import Activation
    x, y = _data()

    def build():
        model = Sequential([Dense(8, activation="relu", input_shape=(5,)), Dropout(0.2), Dense(3),
                            Activation("softmax", dtype="float32")])
        model._test_optimizer = lambda: optimizers.Adam(0.01)
        return model

    mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        eager = _train(build, False, x, y, batch_size=16, epochs=2)
        compiled = _train(build, True, x, y, batch_size=16, epochs=2)
    finally:
        mixed_precision.set_global_policy(None)
    _assert_same(eager, compiled, rtol=1e-3)
    assert compiled[0]._train_step.jit.compiled_steps == 9
    assert compiled[0].layers[0].kernel.dtype == torch.float32
    assert compiled[0].layers[0].compute_dtype == "bfloat16"


def _keras_patterns():
    """name -> builder(jit_compile) -> (compiled model, fit data): common Keras 2 model shapes."""
    import fitgen
    from fitgen import backend as K, regularizers
    from fitgen.layers import GRU, LSTM, Embedding, TimeDistributed
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 6)).astype("float32")
    labels, values = rng.integers(0, 3, 64), rng.standard_normal((64, 1)).astype("float32")
    tokens = rng.integers(1, 50, (64, 10))
    tokens[:, 7:] = 0  # padding the Embedding masks
    sequences = rng.standard_normal((64, 4, 3)).astype("float32")

    def two_outputs(jit_compile):
        inputs = fitgen.Input((6,))
        hidden = Dense(8, activation="relu", kernel_regularizer=regularizers.l2(0.01),
                       activity_regularizer=regularizers.l1(0.01))(inputs)
        model = fitgen.Model(inputs, [Dense(3, activation="softmax", name="cls")(hidden), Dense(1, name="reg")(hidden)])
        model.add_loss(0.01 * K.mean(K.square(hidden)))
        model.compile(optimizers.Adam(0.01), ["sparse_categorical_crossentropy", "mse"], loss_weights=[1.0, 0.5],
                      metrics={"cls": "acc", "reg": "mae"}, jit_compile=jit_compile)
        return model, dict(x=x, y=[labels, values], validation_data=(x[:16], [labels[:16], values[:16]]))

    def masked_lstm(jit_compile):
        model = Sequential([Embedding(50, 8, mask_zero=True, input_length=10), LSTM(6), Dense(1, activation="sigmoid")])
        model.compile("rmsprop", "binary_crossentropy", ["acc"], jit_compile=jit_compile)
        return model, dict(x=tokens, y=(labels > 0).astype("float32"))

    def weighted(jit_compile):
        model = Sequential([Dense(8, activation="tanh", input_shape=(6,)), Dense(3, activation="softmax")])
        model.compile("sgd", "sparse_categorical_crossentropy", ["acc"], weighted_metrics=["acc"],
                      jit_compile=jit_compile)
        return model, dict(x=x, y=labels, sample_weight=rng.random(64).astype("float32"))

    def class_weighted(jit_compile):
        model = Sequential([Dense(8, activation="tanh", input_shape=(6,)), Dense(3, activation="softmax")])
        model.compile("sgd", "sparse_categorical_crossentropy", ["acc"], jit_compile=jit_compile)
        return model, dict(x=x, y=labels, class_weight={0: 1.0, 1: 2.0, 2: 0.5})

    def gru_dropout(jit_compile):
        model = Sequential([GRU(5, return_sequences=True, input_shape=(4, 3), dropout=0.2, recurrent_dropout=0.2),
                            TimeDistributed(Dense(2))])
        model.compile("adam", "mse", jit_compile=jit_compile)
        return model, dict(x=sequences, y=rng.standard_normal((64, 4, 2)).astype("float32"))

    return {"two_outputs_regularizers_add_loss": two_outputs, "mask_zero_lstm": masked_lstm,
            "sample_weight": weighted, "class_weight": class_weighted, "gru_dropout": gru_dropout}


@pytest.mark.parametrize("name", sorted(_keras_patterns()))
def test_common_keras_models_compile_and_train_as_eagerly(name):
    runs = []
    for jit_compile in (False, True):
        torch.manual_seed(3)
        model, data = _keras_patterns()[name](jit_compile)  # the same data for both runs
        with warnings.catch_warnings():
            warnings.filterwarnings("error", message="jit_compile")
            history = model.fit(batch_size=16, epochs=2, verbose=0, shuffle=False, **data).history
        runs.append((model, history))
    _assert_same(*runs)
    assert runs[1][0]._train_step.jit.compiled_steps == 2 * 4 - 1
