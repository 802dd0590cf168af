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
        return (rng.standard_normal((rows, 8, 8, 3)).astype("float32"),
                np.eye(10, dtype="float32")[rng.integers(0, 10, rows)])
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


@pytest.mark.parametrize("kwargs, masked", [({}, False), ({"recurrent_dropout": 0.25}, False), ({}, True),
                                            ({"recurrent_dropout": 0.25, "dropout": 0.2}, True)])
@pytest.mark.parametrize("cls", [L.GRU, L.LSTM, L.SimpleRNN])
def test_recurrent_loops_compute_in_bfloat16_and_train_float32_weights(cls, kwargs, masked):
    # The hand-differentiated loops (masks, recurrent dropout; the GRU's training loop) run in the compute dtype
    # under mixed_bfloat16, as tf-keras's cells do, and their gradients reach the float32 weights.
    x = torch.randn(4, 6, 3)
    mask = torch.tensor([[1] * 6, [1] * 4 + [0] * 2, [0] + [1] * 5, [1, 0] * 3], dtype=torch.bool) if masked else None

    def run(policy, weights=None):
        mixed_precision.set_global_policy(policy)
        try:
            layer = cls(5, return_sequences=True, **kwargs)
            layer(x)
            if weights is not None:
                layer.set_weights(weights)
            torch.manual_seed(0)
            out = layer(x, training=True, mask=mask)
            out.float().square().sum().backward()
            return layer, out, [w.tensor.grad for w in layer.trainable_weights]
        finally:
            mixed_precision.set_global_policy(None)

    layer, out32, grads32 = run(None)
    _, out16, grads16 = run("mixed_bfloat16", layer.get_weights())
    assert out16.dtype == torch.bfloat16
    torch.testing.assert_close(out16.float(), out32, atol=3e-2, rtol=3e-2)
    for got, want in zip(grads16, grads32):
        assert got.dtype == torch.float32
        assert float((got - want).norm() / want.norm()) < 3e-2  # bfloat16's 8-bit mantissa, summed over steps
