"""Keras 2 user-code patterns around the engine: the GAN freezing recipe, nested models as layers, and one
generator reused across several fits (issue: Keras 2 user code beyond the built-in layers)."""
import warnings

import numpy as np
import pytest

from fitgen.layers import LSTM, Dense, Embedding, Input
from fitgen.models import Model, Sequential


def _changed(before, after):
    return [not np.array_equal(a, b) for a, b in zip(before, after)]


def _gan():
    discriminator = Sequential([Dense(8, activation="relu", input_shape=(4,)), Dense(1, activation="sigmoid")])
    discriminator.compile("adam", "binary_crossentropy")
    generator = Sequential([Dense(4, input_shape=(2,))])
    discriminator.trainable = False
    noise = Input((2,))
    combined = Model(noise, discriminator(generator(noise)))
    combined.compile("adam", "binary_crossentropy")
    return discriminator, generator, combined


def test_gan_recipe_discriminator_trains_alone_and_stays_frozen_inside_the_combined_model():
    rng = np.random.default_rng(0)
    discriminator, generator, combined = _gan()
    assert len(discriminator.trainable_weights) == 0  # the flag as set now, as in Keras
    assert [w.name for w in combined.trainable_weights] == [w.name for w in generator.weights]
    for _ in range(3):
        d_before, g_before = discriminator.get_weights(), generator.get_weights()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the Keras 2 "Discrepancy" warning, checked below
            d_loss = discriminator.train_on_batch(rng.random((16, 4)), np.ones((16, 1)))
        assert np.isfinite(d_loss)
        assert all(_changed(d_before, discriminator.get_weights()))
        assert not any(_changed(g_before, generator.get_weights()))

        d_before, g_before = discriminator.get_weights(), generator.get_weights()
        combined.train_on_batch(rng.random((16, 2)), np.ones((16, 1)))
        assert not any(_changed(d_before, discriminator.get_weights()))
        assert all(_changed(g_before, generator.get_weights()))


def test_gan_recipe_with_fit_alternating():
    rng = np.random.default_rng(1)
    discriminator, generator, combined = _gan()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        discriminator.fit(rng.random((32, 4)), np.ones((32, 1)), epochs=1, verbose=0)
    d_before = discriminator.get_weights()
    combined.fit(rng.random((32, 2)), np.ones((32, 1)), epochs=1, verbose=0)
    assert not any(_changed(d_before, discriminator.get_weights()))


def test_trainable_changed_after_compile_warns_and_takes_effect_at_the_next_compile():
    model = Sequential([Dense(3, input_shape=(2,)), Dense(1)])
    model.compile("sgd", "mse")
    model.layers[0].trainable = False
    x, y = np.ones((4, 2)), np.ones((4, 1))
    before = model.layers[0].get_weights()
    with pytest.warns(UserWarning, match="Discrepancy between trainable weights and collected trainable weights"):
        model.train_on_batch(x, y)
    assert any(_changed(before, model.layers[0].get_weights()))  # collected at compile: still trained
    model.compile("sgd", "mse")
    before = model.layers[0].get_weights()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.train_on_batch(x, y)
    assert not any(_changed(before, model.layers[0].get_weights()))


def test_nested_sequential_infers_from_the_tensor_it_is_called_on():
    inner = Sequential([Embedding(22, 64)])
    assert inner.output_shape == (None, None, 64)
    inputs = Input((68,))
    features = inner(inputs)
    assert features.shape == (None, 68, 64)
    outputs = Dense(1)(LSTM(4)(features))
    model = Model(inputs, outputs)
    model.compile("adam", "mse")
    x = np.random.default_rng(0).integers(0, 22, (8, 68))
    model.fit(x, np.ones((8, 1)), verbose=0)
    assert model.predict(x).shape == (8, 1)


def test_nested_functional_model_with_two_inputs_infers_specific_shapes():
    a, b = Input((None, 3)), Input((None, 3))
    inner = Model([a, b], [Dense(2)(a), Dense(5)(b)])
    x, z = Input((7, 3)), Input((9, 3))
    first, second = inner([x, z])
    assert first.shape == (None, 7, 2) and second.shape == (None, 9, 5)


def _endless(seed):
    rng = np.random.default_rng(seed)
    count = 0
    while True:
        x = rng.standard_normal((8, 4)).astype("float32")
        count += 1
        yield x[:, ::-1], np.full((8, 1), count, dtype="float32")  # a negative-stride view, as in Keras examples


@pytest.mark.parametrize("workers", [0, 1])
def test_one_generator_reused_across_several_fits(workers):
    model = Sequential([Dense(1, input_shape=(4,))])
    model.compile("sgd", "mse")
    generator = _endless(0)
    lengths = []
    for _ in range(3):
        history = model.fit_generator(generator, steps_per_epoch=3, epochs=2, verbose=0, workers=workers)
        lengths.append(len(history.history["loss"]))
    assert lengths == [2, 2, 2]
    assert next(generator)[1][0, 0] == 19  # 18 batches consumed by the fits, none closed or lost
    model.evaluate_generator(generator, steps=2)
    model.predict_generator((x for x, _ in generator), steps=2)
    assert next(generator)[1][0, 0] == 24  # 19, then 20-21 evaluated and 22-23 predicted
