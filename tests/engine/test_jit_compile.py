"""`compile(jit_compile=True)`: the compiled train step gives the eager step's History and weights to float
rounding, falls back to the eager step with one warning where it cannot compile, and runs a model's own
`train_step` as written.

Compiling costs seconds per model on a CPU: one small model goes through inductor (the backend users get);
the parity fixtures run the same traced graph op by op (the "eager" backend: the graph, its inputs and its
writes are the ones inductor compiles, without the compile time).
"""
import json
import pathlib
import shutil
import warnings

import numpy as np
import pytest
import torch

from fitgen import optimizers
from fitgen.engine import jit
from fitgen.layers import Dense, Dropout, Lambda
from fitgen.models import Sequential

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "keras2"


@pytest.fixture(autouse=True)
def one_compile_thread():
    # Inductor compiles in a thread pool it keeps for the life of the process; with one compile thread it
    # makes none, which keeps these tests free of leftover threads. torch's own config.patch, not monkeypatch:
    # newer pytest restores a module attribute by deleting it, which removes the option from torch's config.
    from torch._inductor import config
    with config.patch(compile_threads=1):
        yield


@pytest.fixture
def traced_graph_only(monkeypatch):
    monkeypatch.setattr(jit, "BACKEND", "eager")


def _train(build, x, y, jit_compile, **fit_kwargs):
    torch.manual_seed(1234)
    model = build(jit_compile)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="jit_compile")  # no fallback warning where the step compiles
        history = model.fit(x, y, verbose=0, shuffle=False, **fit_kwargs)
    return model, history.history


def _assert_same_training(eager, compiled, rtol=1e-5):
    (eager_model, eager_history), (jit_model, jit_history) = eager, compiled
    assert list(eager_history) == list(jit_history)
    for key in eager_history:
        np.testing.assert_allclose(jit_history[key], eager_history[key], rtol=rtol, atol=1e-6, err_msg=key)
    for mine, reference in zip(jit_model.get_weights(), eager_model.get_weights()):
        np.testing.assert_allclose(mine, reference, rtol=rtol, atol=1e-6)


# Inductor builds C++ kernels on the CPU; without a compiler jit_compile falls back to the eager step (tested
# below with other causes), and there is no compiled step to compare.
@pytest.mark.skipif(shutil.which("c++") is None and shutil.which("g++") is None, reason="no C++ compiler")
def test_inductor_step_matches_the_eager_step_with_dropout_and_a_short_last_batch():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((100, 6)).astype("float32")  # 100 = 6 batches of 16 + a last batch of 4
    y = np.eye(3, dtype="float32")[rng.integers(0, 3, 100)]

    def build(jit_compile):
        model = Sequential([Dense(8, activation="relu", input_shape=(6,)), Dropout(0.3),
                            Dense(3, activation="softmax")])
        model.compile(optimizers.Adam(0.01), "categorical_crossentropy", ["acc"], jit_compile=jit_compile)
        return model

    eager = _train(build, x, y, False, batch_size=16, epochs=2)
    compiled = _train(build, x, y, True, batch_size=16, epochs=2)
    _assert_same_training(eager, compiled)
    model = compiled[0]
    assert model.jit_compile is True
    # Per epoch 6 full batches and a short one; the very first batch and the short ones run eagerly.
    assert model._train_step.jit.compiled_steps == 2 * 6 - 1


def _case(name):
    data = np.load(FIXTURES / f"{name}.npz")
    meta = json.loads((FIXTURES / f"{name}.meta.json").read_text())
    weights = [data[k] for k in sorted((k for k in data.files if k.startswith("init_w_")),
                                       key=lambda k: int(k.rsplit("_", 1)[1]))]
    history = {key: data[f"hist_{key}"] for key in meta["history_keys"]}
    return data["x_x"], data["y_y"], weights, meta, history


def _fixture_model(name, jit_compile):
    import fitgen.layers as L
    if name == "mlp":
        model = Sequential([L.Dense(64, activation="relu", input_shape=(20,), name="dense_a"),
                            L.Dense(10, activation="softmax", name="dense_b")])
        model.compile(optimizers.SGD(learning_rate=0.05, momentum=0.9, nesterov=True), "categorical_crossentropy",
                      ["accuracy"], jit_compile=jit_compile)
    elif name == "cnn":
        model = Sequential([L.Conv2D(8, 3, padding="same", activation="relu", input_shape=(16, 16, 3)),
                            L.BatchNormalization(), L.MaxPooling2D(), L.Conv2D(16, 3, activation="relu"),
                            L.Flatten(), L.Dense(5, activation="softmax")])
        model.compile(optimizers.Adam(learning_rate=0.003), "sparse_categorical_crossentropy", ["acc"],
                      jit_compile=jit_compile)
    else:
        model = Sequential([L.Embedding(100, 16, input_length=12), L.LSTM(8, return_sequences=True), L.GRU(8),
                            L.Dense(1, activation="sigmoid")])
        model.compile(optimizers.RMSprop(learning_rate=0.01), "binary_crossentropy", ["accuracy"],
                      jit_compile=jit_compile)
    return model


@pytest.mark.parametrize("name", ["mlp", "cnn", "rnn"])
def test_parity_fixtures_train_the_same_compiled_and_eager(name, traced_graph_only):
    x, y, weights, meta, keras_history = _case(name)

    def build(jit_compile):
        model = _fixture_model(name, jit_compile)
        model.set_weights(weights)
        return model

    kwargs = dict(batch_size=meta["batch_size"], epochs=meta["epochs"])
    eager = _train(build, x, y, False, **kwargs)
    compiled = _train(build, x, y, True, **kwargs)
    _assert_same_training(eager, compiled)
    assert compiled[0]._train_step.jit.compiled_steps > 0
    for key, values in keras_history.items():  # and both are tf-keras's numbers
        np.testing.assert_allclose(compiled[1][key], values, rtol=1e-4, atol=1e-6, err_msg=key)


def _small_data():
    rng = np.random.default_rng(3)
    return rng.standard_normal((24, 4)).astype("float32"), rng.standard_normal((24, 2)).astype("float32")


def test_a_lambda_with_python_side_effects_falls_back_with_one_warning(traced_graph_only, capsys):
    x, y = _small_data()

    def build(jit_compile):
        def noisy(t):
            print("called")
            return t * 2.0
        model = Sequential([Dense(3, input_shape=(4,)), Lambda(noisy), Dense(2)])
        model.compile("sgd", "mse", jit_compile=jit_compile)
        return model

    torch.manual_seed(0)
    eager = build(False)
    eager_history = eager.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False).history
    torch.manual_seed(0)
    model = build(True)
    with pytest.warns(UserWarning, match="jit_compile=True") as record:
        history = model.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False).history
        model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    assert len([w for w in record if "jit_compile" in str(w.message)]) == 1
    np.testing.assert_allclose(history["loss"], eager_history["loss"], rtol=1e-6)
    assert model._train_step.jit.compiled_steps == 0
    assert "called" in capsys.readouterr().out


def test_losses_kept_outside_calls_fall_back_with_one_warning(traced_graph_only):
    x, y = _small_data()
    model = Sequential([Dense(2, input_shape=(4,))])
    layer = model.layers[0]
    layer.add_loss(lambda: 0.01 * torch.sum(layer.kernel ** 2))
    model.compile("sgd", "mse", jit_compile=True)
    with pytest.warns(UserWarning, match="add_loss"):
        model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert model._train_step.jit.compiled_steps == 0


def test_a_custom_train_step_runs_as_written_with_one_warning():
    x, y = _small_data()
    calls = []

    class Custom(Sequential):
        def train_step(self, data):
            calls.append(1)
            return super().train_step(data)

    model = Custom([Dense(2, input_shape=(4,))])
    model.compile("sgd", "mse", jit_compile=True)
    with pytest.warns(UserWarning, match="own train_step"):
        model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert len(calls) == 3


def test_jit_compile_accepts_keras_values_only():
    model = Sequential([Dense(2, input_shape=(4,))])
    for value in (None, False, "auto"):
        model.compile("sgd", "mse", jit_compile=value)
        assert model.jit_compile is False
    with pytest.raises(ValueError, match="jit_compile"):
        model.compile("sgd", "mse", jit_compile="xla")
