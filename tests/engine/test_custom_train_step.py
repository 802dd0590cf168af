"""Customizing what happens in fit (tf.keras 2.2+): train_step / test_step / predict_step overrides, with
compiled_loss, compiled_metrics, self.metrics and the optimizer's minimize/apply_gradients, as tf-keras's guide
writes them (tensors are torch's)."""
import numpy as np
import pytest
import torch

import fitgen
from fitgen import backend, metrics
from fitgen.layers import Dense, Input
from fitgen.models import Model, Sequential


def _data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 8)).astype("float32")
    y = (x @ rng.random((8, 1))).astype("float32")
    return x, y


class GuideModel(Model):
    """The guide's first example: compiled loss and metrics, one optimizer step."""

    def train_step(self, data):
        x, y = data
        y_pred = self(x, training=True)
        loss = self.compiled_loss(y, y_pred, regularization_losses=self.losses)
        self.optimizer.minimize(loss, self.trainable_weights)
        self.compiled_metrics.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


class GradientsModel(Model):
    """tf-keras's tape form, in torch: gradients, then apply_gradients(zip(grads, vars))."""

    def train_step(self, data):
        x, y = data
        y_pred = self(x, training=True)
        loss = self.compiled_loss(y, y_pred)
        variables = self.trainable_weights
        grads = torch.autograd.grad(loss, [v.tensor for v in variables])
        self.optimizer.apply_gradients(zip(grads, variables))
        self.compiled_metrics.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


class TorchStyleModel(Model):
    """The torch-native form: zero_grad, backward, apply_gradients()."""

    def train_step(self, data):
        x, y = data
        self.optimizer.zero_grad()
        y_pred = self(x, training=True)
        loss = self.compiled_loss(y, y_pred)
        loss.backward()
        self.optimizer.apply_gradients()
        self.compiled_metrics.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


class SuperModel(Model):
    def train_step(self, data):
        self.calls = getattr(self, "calls", 0) + 1
        return super().train_step(data)


def _build(cls):
    backend.clear_session()
    backend.set_random_seed(3)
    inputs = Input((8,))
    model = cls(inputs, Dense(1)(Dense(4, activation="tanh")(inputs)))
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    return model


@pytest.mark.parametrize("cls", [GuideModel, GradientsModel, TorchStyleModel, SuperModel])
def test_overridden_train_step_trains_like_the_built_in_step(cls):
    x, y = _data()
    reference = _build(Model)
    expected = reference.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    model = _build(cls)
    history = model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    assert list(history.history) == ["loss", "mae"]
    np.testing.assert_allclose(history.history["loss"], expected.history["loss"], rtol=1e-5)
    np.testing.assert_allclose(history.history["mae"], expected.history["mae"], rtol=1e-5)
    for got, want in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    if cls is SuperModel:
        assert model.calls == 12


def test_overrides_apply_to_fit_generator_and_train_on_batch():
    x, y = _data()
    model = _build(GuideModel)

    def batches():
        while True:
            for start in range(0, len(x), 16):
                yield x[start:start + 16], y[start:start + 16]

    history = model.fit_generator(batches(), steps_per_epoch=6, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and history.history["loss"][1] < history.history["loss"][0]
    before = model.get_weights()
    logs = model.train_on_batch(x[:16], y[:16], return_dict=True)
    assert set(logs) == {"loss", "mae"}
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


class TrackerModel(Model):
    """The guide's lower-level example: own loss, own trackers, `metrics` property."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.loss_tracker = metrics.Mean(name="loss")
        self.mae_metric = metrics.MeanAbsoluteError(name="mae")

    def train_step(self, data):
        x, y = data
        y_pred = self(x, training=True)
        loss = fitgen.losses.mean_squared_error(y, y_pred).mean()
        self.optimizer.minimize(loss, self.trainable_variables)
        self.loss_tracker.update_state(loss)
        self.mae_metric.update_state(y, y_pred)
        return {"loss": self.loss_tracker.result(), "mae": self.mae_metric.result()}

    def test_step(self, data):
        x, y = data
        y_pred = self(x, training=False)
        self.loss_tracker.update_state(fitgen.losses.mean_squared_error(y, y_pred).mean())
        self.mae_metric.update_state(y, y_pred)
        return {"loss": self.loss_tracker.result(), "mae": self.mae_metric.result()}

    @property
    def metrics(self):
        return [self.loss_tracker, self.mae_metric]


def test_own_trackers_are_reset_each_epoch_and_test_step_serves_validation_and_evaluate():
    x, y = _data()
    inputs = Input((8,))
    model = TrackerModel(inputs, Dense(1)(inputs))
    model.compile(optimizer="adam")
    history = model.fit(x, y, batch_size=32, epochs=3, validation_data=(x, y), verbose=0)
    assert list(history.history) == ["loss", "mae", "val_loss", "val_mae"]
    logs = model.evaluate(x, y, batch_size=32, verbose=0, return_dict=True)
    assert logs["loss"] == pytest.approx(history.history["val_loss"][-1], rel=1e-5)
    # Reset per epoch: each epoch's value is that epoch's mean, not a mean since the first epoch.
    model.reset_metrics()
    model.evaluate(x, y, batch_size=96, verbose=0)
    assert model.loss_tracker.result().item() == pytest.approx(logs["loss"], rel=1e-5)


class PredictModel(Model):
    def predict_step(self, data):
        return self(data, training=False) * 2


def test_predict_step_override_serves_predict_and_predict_on_batch():
    x, _ = _data()
    inputs = Input((8,))
    model = PredictModel(inputs, Dense(1)(inputs))
    plain = Model(inputs, model.outputs)
    np.testing.assert_allclose(model.predict(x, batch_size=32), 2 * plain.predict(x, batch_size=32), rtol=1e-6)
    np.testing.assert_allclose(model.predict_on_batch(x), 2 * plain.predict(x), rtol=1e-6)


class GAN(Model):
    """tf-keras guide's GAN: its own compile, two optimizers, data without targets."""

    def __init__(self, discriminator, generator, latent_dim):
        super().__init__()
        self.discriminator = discriminator
        self.generator = generator
        self.latent_dim = latent_dim
        self.d_loss_tracker = metrics.Mean(name="d_loss")
        self.g_loss_tracker = metrics.Mean(name="g_loss")

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker]

    def compile(self, d_optimizer, g_optimizer, loss_fn):
        super().compile()
        self.d_optimizer, self.g_optimizer, self.loss_fn = d_optimizer, g_optimizer, loss_fn

    def train_step(self, real):
        if isinstance(real, tuple):
            real = real[0]
        batch = real.shape[0]
        fake = self.generator(torch.randn(batch, self.latent_dim))
        images = torch.cat([fake.detach(), real])
        labels = torch.cat([torch.ones(batch, 1), torch.zeros(batch, 1)])
        d_loss = self.loss_fn(labels, self.discriminator(images))
        grads = self.d_optimizer.get_gradients(d_loss, self.discriminator.trainable_weights)
        self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))
        misleading = torch.zeros(batch, 1)
        g_loss = self.loss_fn(misleading, self.discriminator(self.generator(torch.randn(batch, self.latent_dim))))
        self.g_optimizer.minimize(g_loss, self.generator.trainable_weights)
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {"d_loss": self.d_loss_tracker.result(), "g_loss": self.g_loss_tracker.result()}


def make_gan(latent_dim=3):
    discriminator = Sequential([Dense(8, activation="relu", input_shape=(4,)), Dense(1)])
    generator = Sequential([Dense(8, activation="relu", input_shape=(latent_dim,)), Dense(4)])
    gan = GAN(discriminator, generator, latent_dim)
    gan.compile(d_optimizer=fitgen.optimizers.Adam(0.001), g_optimizer=fitgen.optimizers.Adam(0.001),
                loss_fn=fitgen.losses.BinaryCrossentropy(from_logits=True))
    return gan


def test_gan_guide_trains_both_networks_from_images_alone():
    gan = make_gan()
    d_before, g_before = gan.discriminator.get_weights(), gan.generator.get_weights()
    history = gan.fit(np.random.default_rng(0).random((64, 4)).astype("float32"), batch_size=16, epochs=2,
                      verbose=0)
    assert list(history.history) == ["d_loss", "g_loss"]
    assert all(np.isfinite(v) for values in history.history.values() for v in values)
    assert all(not np.array_equal(a, b) for a, b in zip(d_before, gan.discriminator.get_weights()))
    assert all(not np.array_equal(a, b) for a, b in zip(g_before, gan.generator.get_weights()))


def test_apply_gradients_rejects_variables_it_was_not_built_for():
    a, b = Sequential([Dense(2, input_shape=(2,))]), Sequential([Dense(2, input_shape=(2,))])
    optimizer = fitgen.optimizers.SGD(0.1)
    optimizer.minimize(a(torch.ones(1, 2)).sum(), a.trainable_weights)
    with pytest.raises(ValueError, match="was built for the variables"):
        optimizer.minimize(b(torch.ones(1, 2)).sum(), b.trainable_weights)
