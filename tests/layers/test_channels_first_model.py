"""A channels_first CNN end to end against tf-keras 2.21: fitgen loads tf-keras's .h5, predicts the same
values and, after two SGD steps, holds the same weights; and a channels_first model equals its channels_last
twin on transposed data (the identity that lets channels_last numbers check channels_first code).

Fixtures: tests/fixtures/layers/make_conv_fixtures.py (cnn_channels_first.h5 / .npz).
"""
import os

import numpy as np
import pytest
import torch

from fitgen import backend
from fitgen.layers import (AveragePooling3D, BatchNormalization, Conv2D, Conv3D, Conv3DTranspose, Cropping2D,
                           Dense, Flatten, GlobalAveragePooling2D, LocallyConnected2D, MaxPooling2D, SeparableConv2D,
                           UpSampling2D, ZeroPadding2D)
from fitgen.models import Sequential, load_model
from fitgen.optimizers import SGD

FIXTURES = os.path.join(os.path.dirname(__file__), os.pardir, "fixtures", "layers")


# tf-keras's plain SGD keeps no momentum slots, so its file holds only `iteration` (0): a fresh optimizer is
# the same state, and load_model says so in a warning.
@pytest.mark.filterwarnings("ignore:Error in loading the saved optimizer state")
def test_tf_keras_channels_first_model_loads_predicts_and_trains_the_same():
    data = np.load(os.path.join(FIXTURES, "cnn_channels_first.npz"))
    model = load_model(os.path.join(FIXTURES, "cnn_channels_first.h5"))
    assert [getattr(layer, "data_format", None) for layer in model.layers] == \
        ["channels_first", None, "channels_first", "channels_first", "channels_first", None]
    assert model.layers[1].axis == [1]
    np.testing.assert_allclose(model.predict(data["x"], verbose=0), data["pred0"], rtol=1e-5, atol=1e-6)
    for step in range(2):
        batch = slice(8 * step, 8 * step + 8)
        loss = model.train_on_batch(data["x"][batch], data["y"][batch])
        np.testing.assert_allclose(loss, data[f"loss{step}"], rtol=1e-5)
        for i, w in enumerate(model.get_weights()):
            np.testing.assert_allclose(w, data[f"step{step}_w{i}"], rtol=1e-4, atol=1e-6, err_msg=f"step {step} w{i}")
    np.testing.assert_allclose(model.predict(data["x"], verbose=0), data["pred1"], rtol=1e-4, atol=1e-6)


def _pair(data_format):
    """A model with most image layers, in one data format (weights do not depend on it)."""
    backend.clear_session()
    first = data_format == "channels_first"
    kw = {"data_format": data_format}
    return Sequential([
        ZeroPadding2D(((1, 0), (0, 2)), input_shape=(3, 9, 8) if first else (9, 8, 3), **kw),
        Conv2D(4, 3, strides=2, padding="same", activation="relu", **kw),
        BatchNormalization(axis=1 if first else -1),
        SeparableConv2D(5, 2, padding="same", **kw),
        UpSampling2D(2, interpolation="bilinear", **kw),
        Cropping2D(((1, 1), (0, 2)), **kw),
        MaxPooling2D(3, strides=2, padding="same", **kw),
        Conv2D(6, 2, **kw),
        Flatten(**kw),
        Dense(3, activation="softmax"),
    ])


def test_channels_first_model_equals_channels_last_twin_on_transposed_data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 3, 9, 8)).astype("float32")
    y = np.eye(3, dtype="float32")[rng.integers(0, 3, 8)]
    first, last = _pair("channels_first"), _pair("channels_last")
    last.set_weights(first.get_weights())
    for model in (first, last):
        model.compile(SGD(0.1), "categorical_crossentropy")
    x_last = x.transpose(0, 2, 3, 1)
    np.testing.assert_allclose(first.predict(x, verbose=0), last.predict(x_last, verbose=0), rtol=1e-5, atol=1e-6)
    first.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    last.fit(x_last, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(first.get_weights(), last.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_global_pooling_and_3d_twins():
    rng = np.random.default_rng(1)
    x = torch.as_tensor(rng.standard_normal((2, 2, 5, 6, 4)).astype("float32"))
    for make in (lambda f: Conv3D(3, 2, padding="same", data_format=f),
                 lambda f: Conv3DTranspose(3, 3, strides=2, data_format=f),
                 lambda f: AveragePooling3D(2, strides=1, padding="same", data_format=f)):
        first, last = make("channels_first"), make("channels_last")
        out_first = first(x)
        last(x.movedim(1, -1))
        last.set_weights(first.get_weights())
        np.testing.assert_allclose(out_first.movedim(1, -1).detach().numpy(),
                                   last(x.movedim(1, -1)).detach().numpy(), rtol=1e-5, atol=1e-5)
    images = x[:, :, 0]
    np.testing.assert_allclose(GlobalAveragePooling2D(data_format="channels_first")(images).numpy(),
                               images.mean(dim=(2, 3)).numpy(), rtol=1e-6)


def test_locally_connected_kernels_do_not_carry_over_between_layouts():
    # Keras lists each window's values in the input's own layout, so the same kernel gives other numbers.
    x = torch.randn(2, 3, 5, 5)
    first, last = LocallyConnected2D(2, 3, data_format="channels_first"), LocallyConnected2D(2, 3)
    first(x)
    last(x.movedim(1, -1))
    assert [w.shape for w in first.get_weights()] == [w.shape for w in last.get_weights()] == [(9, 27, 2), (3, 3, 2)]


@pytest.mark.parametrize("data_format", ["channels_first", "channels_last"])
def test_channels_first_image_data_format_is_the_default(data_format):
    previous = backend.image_data_format()
    backend.set_image_data_format(data_format)
    try:
        layers = [Conv2D(2, 3), MaxPooling2D(), Flatten(), UpSampling2D(), Conv3D(1, 1), LocallyConnected2D(1, 1)]
        assert {layer.data_format for layer in layers} == {data_format}
        assert {layer.get_config()["data_format"] for layer in layers} == {data_format}
    finally:
        backend.set_image_data_format(previous)
