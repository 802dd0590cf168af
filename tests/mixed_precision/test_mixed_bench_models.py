"""mixed_bfloat16 trains every model of bench/overhead.py (small versions) to the float32 loss after one epoch,
from the same initial weights, within bfloat16's rounding."""
import numpy as np
import pytest
import torch

from fitgen import layers as L
from fitgen import mixed_precision
from fitgen.models import Model, Sequential


def _cnn():
    return Sequential([L.Conv2D(8, 3, padding="same", activation="relu", input_shape=(8, 8, 3)), L.MaxPooling2D(),
                       L.Conv2D(16, 3, padding="same", activation="relu"), L.MaxPooling2D(), L.Flatten(),
                       L.Dense(16, activation="relu"), L.Dropout(0.2), L.Dense(10),
                       L.Activation("softmax", dtype="float32")])


def _resnet():
    inputs = L.Input((8, 8, 3))
    h = L.Activation("relu")(L.BatchNormalization()(L.Conv2D(8, 3, padding="same")(inputs)))
    r = L.Activation("relu")(L.BatchNormalization()(L.Conv2D(8, 3, padding="same")(h)))
    r = L.BatchNormalization()(L.Conv2D(8, 3, padding="same")(r))
    h = L.GlobalAveragePooling2D()(L.Activation("relu")(L.add([h, r])))
    return Model(inputs, L.Activation("softmax", dtype="float32")(L.Dense(10)(h)))


def _text(*core):
    return lambda: Sequential([L.Embedding(50, 8, input_length=12)] + [make() for make in core] +
                              [L.Dense(1), L.Activation("sigmoid", dtype="float32")])


MODELS = {
    "tiny": (lambda: Sequential([L.Dense(32, activation="relu", input_shape=(20,)), L.Dense(10),
                                 L.Activation("softmax", dtype="float32")]), "vector"),
    "mlp": (lambda: Sequential([L.Dense(64, activation="relu", input_shape=(20,)), L.Dropout(0.2),
                                L.Dense(64, activation="relu"), L.Dense(10),
                                L.Activation("softmax", dtype="float32")]), "vector"),
    "cnn": (_cnn, "image"), "resnet": (_resnet, "image"),
    "lstm": (_text(lambda: L.LSTM(8)), "text"), "gru": (_text(lambda: L.GRU(8)), "text"),
    "conv1d": (_text(lambda: L.Conv1D(8, 3, activation="relu"), L.GlobalMaxPooling1D), "text"),
}


def _data(kind, rng, rows=128):
    if kind == "vector":
        return rng.standard_normal((rows, 20)).astype("float32"), np.eye(10, dtype="float32")[rng.integers(0, 10, rows)]
    if kind == "image":
        return rng.standard_normal((rows, 8, 8, 3)).astype("float32"), np.eye(10, dtype="float32")[rng.integers(0, 10, rows)]
    return rng.integers(1, 50, (rows, 12)), rng.integers(0, 2, (rows, 1)).astype("float32")


@pytest.mark.parametrize("name", sorted(MODELS))
def test_bfloat16_trains_like_float32(name):
    build, kind = MODELS[name]
    x, y = _data(kind, np.random.default_rng(0))
    losses, weights = {}, None
    for policy in ("float32", "mixed_bfloat16"):
        mixed_precision.set_global_policy(policy)
        torch.manual_seed(0)
        model = build()
        mixed_precision.set_global_policy(None)
        if weights is None:
            weights = model.get_weights()
        model.set_weights(weights)
        model.compile("adam", "binary_crossentropy" if kind == "text" else "categorical_crossentropy")
        torch.manual_seed(1)
        losses[policy] = model.fit(x, y, batch_size=32, epochs=1, verbose=0, shuffle=False).history["loss"][0]
        assert all(w.dtype == np.float32 for w in model.get_weights())
    np.testing.assert_allclose(losses["mixed_bfloat16"], losses["float32"], rtol=1e-2)
