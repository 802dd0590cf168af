"""Losses and metrics added from tensors: `model.add_loss(symbolic)` (the VAE pattern), `add_loss` inside a layer's
call, zero-argument callables, `compile(loss=None)` then `fit(x, None)`, and `add_metric`."""
import numpy as np
import pytest
import torch

from fitgen import backend
from fitgen.layers import Dense, Input, Lambda, Layer
from fitgen.models import Model, Sequential, load_model
from fitgen.regularizers import l2


def _autoencoder():
    """A deterministic VAE-shaped model: reconstruction loss + a KL-like term, both added as symbolic losses."""
    backend.clear_session()
    backend.set_random_seed(0)
    inputs = Input((6,))
    z_mean = Dense(2, name="z_mean")(inputs)
    z_log_var = Dense(2, name="z_log_var")(inputs)
    outputs = Dense(6, activation="sigmoid", name="decoded")(z_mean)
    model = Model(inputs, outputs)
    kl = Lambda(lambda a: -0.5 * torch.sum(1 + a[1] - a[0] ** 2 - torch.exp(a[1]), dim=-1), name="kl")(
        [z_mean, z_log_var])
    reconstruction = Lambda(lambda a: 6 * torch.mean((a[0] - a[1]) ** 2, dim=-1), name="rec")([inputs, outputs])
    total = Lambda(lambda a: torch.mean(a[0] + a[1]), name="total")([reconstruction, kl])
    model.add_loss(total)
    model.add_metric(kl, name="kl_loss")
    model.compile(optimizer="adam")
    return model


def _hand_loss(model, x):
    encoder = Model(model.inputs, [model.get_layer("z_mean").output, model.get_layer("z_log_var").output])
    mean, log_var = encoder.predict(x)
    decoded = model.predict(x)
    kl = -0.5 * np.sum(1 + log_var - mean ** 2 - np.exp(log_var), axis=-1)
    return np.mean(6 * np.mean((x - decoded) ** 2, axis=-1) + kl), np.mean(kl)


def test_symbolic_added_loss_trains_without_targets_and_equals_the_hand_computed_loss():
    x = np.random.default_rng(0).random((64, 6)).astype("float32")
    model = _autoencoder()
    assert model.metrics_names == ["loss", "kl_loss"]
    history = model.fit(x, epochs=3, batch_size=16, validation_data=(x, None), verbose=0)
    assert list(history.history) == ["loss", "kl_loss", "val_loss", "val_kl_loss"]
    assert history.history["loss"][-1] < history.history["loss"][0]
    loss, kl = model.evaluate(x, batch_size=64, verbose=0)
    want_loss, want_kl = _hand_loss(model, x)
    assert loss == pytest.approx(want_loss, rel=1e-5)
    assert kl == pytest.approx(want_kl, rel=1e-5)


def test_added_losses_and_metrics_survive_save_and_load(tmp_path):
    x = np.random.default_rng(1).random((32, 6)).astype("float32")
    model = _autoencoder()
    model.fit(x, epochs=1, verbose=0)
    path = str(tmp_path / "vae.h5")
    model.save(path)
    loaded = load_model(path, safe_mode=False)  # our own file: its Lambda bytecode may run
    assert loaded.metrics_names == ["loss", "kl_loss"]
    np.testing.assert_allclose(loaded.evaluate(x, verbose=0), model.evaluate(x, verbose=0), rtol=1e-5)


def test_symbolic_loss_must_come_from_the_model_inputs():
    model = Sequential([Dense(2, input_shape=(3,))])
    other = Dense(1)(Input((3,)))
    with pytest.raises(ValueError, match="Graph disconnected"):
        Model(model.inputs, model.outputs).add_loss(other)
    with pytest.raises(ValueError, match="symbolic loss"):
        Dense(2).add_loss(other)


class ActivityPenalty(Layer):
    """A custom layer adding a loss inside call (the Keras 2 custom-layer pattern)."""

    def call(self, inputs):
        self.add_loss(0.1 * torch.mean(inputs ** 2), inputs=inputs)
        self.add_metric(torch.mean(inputs), name="activation_mean")
        return inputs


def test_loss_added_in_call_counts_for_its_batch_and_is_not_kept():
    rng = np.random.default_rng(2)
    x, y = rng.random((32, 4)).astype("float32"), rng.random((32, 1)).astype("float32")
    backend.set_random_seed(1)
    model = Sequential([Dense(3, input_shape=(4,)), ActivityPenalty(), Dense(1)])
    model.compile("sgd", "mse")
    history = model.fit(x, y, batch_size=32, epochs=1, verbose=0, shuffle=False)
    assert list(history.history) == ["loss", "activation_mean"]
    hidden = Model(model.inputs, model.layers[0].output).predict(x)
    mse = np.mean((model.predict(x) - y) ** 2)
    logs = model.evaluate(x, y, batch_size=32, verbose=0, return_dict=True)
    assert logs["loss"] == pytest.approx(mse + 0.1 * np.mean(hidden ** 2), rel=1e-5)
    assert logs["activation_mean"] == pytest.approx(np.mean(hidden), rel=1e-5)
    for _ in range(3):
        model.predict(x)
        model(torch.as_tensor(x))
    assert len(model.layers[1].losses) == 1  # the latest call's loss, not one per call


def test_zero_argument_callable_loss_is_added_at_every_step():
    rng = np.random.default_rng(3)
    x, y = rng.random((16, 4)).astype("float32"), rng.random((16, 1)).astype("float32")
    model = Sequential([Dense(1, input_shape=(4,))])
    dense = model.layers[0]
    model.add_loss(lambda: 0.5 * torch.sum(dense.kernel ** 2))
    model.compile("sgd", "mse")
    logs = model.evaluate(x, y, batch_size=16, verbose=0)
    kernel = dense.get_weights()[0]
    assert logs == pytest.approx(np.mean((model.predict(x) - y) ** 2) + 0.5 * np.sum(kernel ** 2), rel=1e-5)


def test_weight_regularizers_and_activity_losses_are_reported_by_losses():
    model = Sequential([Dense(2, input_shape=(3,), kernel_regularizer=l2(0.1), activity_regularizer=l2(0.01))])
    assert len(model.losses) == 1  # the kernel penalty; no call yet
    model(torch.ones(4, 3))
    assert len(model.losses) == 2
    model(torch.ones(4, 3))
    assert len(model.losses) == 2


def test_compiled_without_loss_and_without_added_loss_says_so():
    model = Sequential([Dense(1, input_shape=(2,))])
    model.compile("sgd")
    with pytest.raises(ValueError, match="No loss to compute"):
        model.fit(np.ones((4, 2)), epochs=1, verbose=0)
