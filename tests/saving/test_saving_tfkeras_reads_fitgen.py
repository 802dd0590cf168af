"""tf-keras 2.x reads fitgen's files: `load_model` (with the training config and optimizer state),
`model_from_json` + `load_weights`, and gets fitgen's predictions; training continued in tf-keras from the
saved optimizer state matches training continued in fitgen.

Runs only when FITGEN_TFKERAS_PYTHON names a Python interpreter with tf-keras installed (it need not have
torch): fitgen writes the files here, that interpreter reads them in a subprocess.
"""
import json
import os
import subprocess

import numpy as np
import pytest

from fitgen.engine.input_layer import Input
from fitgen.engine.model import Model
from fitgen.engine.sequential import Sequential
from fitgen.saving.serialization import layer_classes

PYTHON = os.environ.get("FITGEN_TFKERAS_PYTHON")
pytestmark = pytest.mark.skipif(not PYTHON, reason="set FITGEN_TFKERAS_PYTHON to a Python with tf-keras")
L = layer_classes()

READER = r"""
import json, os, sys
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np
import tensorflow as tf
import tf_keras
tf.config.experimental.enable_op_determinism()
folder = sys.argv[1]
for name in json.load(open(os.path.join(folder, "cases.json"))):
    data = np.load(os.path.join(folder, name + ".npz"))
    xs = [data[k] for k in sorted(data.files) if k.startswith("x")]
    ys = [data[k] for k in sorted(data.files) if k.startswith("y")]
    x = xs[0] if len(xs) == 1 else xs
    y = ys[0] if len(ys) == 1 else ys
    out = {}
    model = tf_keras.models.load_model(os.path.join(folder, name + ".h5"))
    preds = model.predict(x, verbose=0)
    for i, p in enumerate(preds if isinstance(preds, list) else [preds]):
        out["pred_%d" % i] = p
    out["iterations"] = np.asarray(int(model.optimizer.iterations.numpy()))
    model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    for i, w in enumerate(model.get_weights()):
        out["trained_%d" % i] = w
    rebuilt = tf_keras.models.model_from_json(open(os.path.join(folder, name + ".json")).read())
    rebuilt.load_weights(os.path.join(folder, name + "_weights.h5"))
    preds = rebuilt.predict(x, verbose=0)
    for i, p in enumerate(preds if isinstance(preds, list) else [preds]):
        out["json_pred_%d" % i] = p
    np.savez(os.path.join(folder, name + "_tfkeras.npz"), **out)
    print("read", name, flush=True)
"""


def _cases():
    rng = np.random.default_rng(0)
    mlp = Sequential([L["Dense"](8, activation="relu", input_shape=(5,)), L["Activation"]("tanh"),
                      L["Dense"](3, activation="softmax")])
    mlp.compile("adam", "categorical_crossentropy", metrics=["accuracy"])
    cnn = Sequential([L["Conv2D"](4, 3, padding="same", activation="relu", input_shape=(6, 6, 2)),
                      L["BatchNormalization"](), L["MaxPooling2D"](), L["Flatten"](), L["Dense"](2)])
    cnn.compile("rmsprop", "mse")
    rnn = Sequential([L["Embedding"](20, 4, input_length=5), L["LSTM"](3, return_sequences=True), L["GRU"](3),
                      L["Dense"](1, activation="sigmoid")])
    from fitgen.optimizers import SGD
    rnn.compile(SGD(0.1, momentum=0.9, nesterov=True), "binary_crossentropy", metrics=["acc"])
    a, b = Input((5,), name="a"), Input((3,), name="b")
    shared = L["Dense"](4, activation="tanh", name="shared")
    inner_in = Input((4,))
    inner = Model(inner_in, L["Dense"](4, name="inner_dense")(inner_in), name="inner")
    h = L["Concatenate"]()([inner(shared(a)), shared(L["Dense"](5)(b))])
    multi = Model([a, b], [L["Dense"](2, activation="softmax", name="cls")(h), L["Dense"](1, name="reg")(h)])
    multi.compile("adagrad", loss={"cls": "categorical_crossentropy", "reg": "mse"},
                  loss_weights={"cls": 1.0, "reg": 0.5}, metrics={"cls": ["accuracy"]})
    seq, h = Input((5, 4), name="seq"), Input((3,), name="h")
    x = L["RNN"](L["LSTMCell"](3), return_sequences=True)(seq, initial_state=[h, L["Dense"](3)(h)])
    x = L["RNN"]([L["GRUCell"](3), L["SimpleRNNCell"](2)], go_backwards=True)(x)
    cells = Model([seq, h], L["Dense"](1)(x))
    cells.compile("adam", "mse")
    conv_lstm = Sequential([L["ConvLSTM2D"](2, 3, padding="same", return_sequences=True, input_shape=(3, 5, 5, 1)),
                            L["ConvLSTM2D"](2, 2, strides=2), L["Flatten"](), L["Dense"](1)])
    conv_lstm.compile("rmsprop", "mse")
    onehot = lambda n, k: np.eye(k, dtype="float32")[rng.integers(0, k, n)]
    return {
        "mlp": (mlp, [rng.standard_normal((12, 5)).astype("float32")], [onehot(12, 3)]),
        "cnn": (cnn, [rng.standard_normal((12, 6, 6, 2)).astype("float32")],
                [rng.standard_normal((12, 2)).astype("float32")]),
        "rnn": (rnn, [rng.integers(0, 20, (12, 5)).astype("int32")], [rng.integers(0, 2, (12, 1)).astype("float32")]),
        "multi": (multi, [rng.standard_normal((12, 5)).astype("float32"), rng.standard_normal((12, 3)).astype("float32")],
                  [onehot(12, 2), rng.standard_normal((12, 1)).astype("float32")]),
        "cells": (cells, [rng.standard_normal((12, 5, 4)).astype("float32"), rng.standard_normal((12, 3)).astype("float32")],
                  [rng.standard_normal((12, 1)).astype("float32")]),
        "conv_lstm": (conv_lstm, [rng.standard_normal((12, 3, 5, 5, 1)).astype("float32")],
                      [rng.standard_normal((12, 1)).astype("float32")]),
    }


def test_tfkeras_loads_fitgen_files(tmp_path):
    cases = _cases()
    expected = {}
    for name, (model, xs, ys) in cases.items():
        x, y = (xs[0], ys[0]) if len(xs) == 1 else (xs, ys)
        model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
        model.save(tmp_path / f"{name}.h5")
        model.save_weights(tmp_path / f"{name}_weights.h5")
        (tmp_path / f"{name}.json").write_text(model.to_json())
        np.savez(tmp_path / f"{name}.npz", **{f"x{i}": v for i, v in enumerate(xs)},
                 **{f"y{i}": v for i, v in enumerate(ys)})
        preds = model.predict(x, verbose=0)
        iterations = int(model.optimizer.iterations)
        model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
        expected[name] = (preds if isinstance(preds, list) else [preds], iterations, model.get_weights())
    (tmp_path / "cases.json").write_text(json.dumps(list(cases)))
    (tmp_path / "reader.py").write_text(READER)
    done = subprocess.run([PYTHON, str(tmp_path / "reader.py"), str(tmp_path)], capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    for name, (preds, iterations, trained) in expected.items():
        got = np.load(tmp_path / f"{name}_tfkeras.npz")
        for i, p in enumerate(preds):
            np.testing.assert_allclose(got[f"pred_{i}"], p, rtol=1e-5, atol=1e-6, err_msg=name)
            np.testing.assert_allclose(got[f"json_pred_{i}"], p, rtol=1e-5, atol=1e-6, err_msg=name)
        assert int(got["iterations"]) == iterations, name
        for i, w in enumerate(trained):
            np.testing.assert_allclose(got[f"trained_{i}"], w, rtol=1e-4, atol=1e-5, err_msg=f"{name} weight {i}")
