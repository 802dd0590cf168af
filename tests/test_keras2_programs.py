"""Small programs in the style of Keras 2's own examples, written only against the Keras 2 API (`from fitgen import
backend as K`, custom layers and losses, add_loss, alternating train_on_batch, one generator across fits), each
trained for one short epoch. They are the user code of issue 14, run end to end."""
import numpy as np
import pytest

from fitgen import backend as K
from fitgen.layers import (Activation, BatchNormalization, Concatenate, Dense, Dropout, Embedding, Flatten, GRU,
                           Input, Lambda, Layer, LeakyReLU, multiply)
from fitgen.models import Model, Sequential, load_model
from fitgen.optimizers import RMSprop, Adam


@pytest.fixture(autouse=True)
def _seeded():
    K.clear_session()
    K.set_random_seed(7)


def test_mnist_siamese_with_a_contrastive_loss_in_backend_ops():
    # keras/examples/mnist_siamese.py, shrunk.
    def euclidean_distance(vects):
        x, y = vects
        sum_square = K.sum(K.square(x - y), axis=1, keepdims=True)
        return K.sqrt(K.maximum(sum_square, K.epsilon()))

    def eucl_dist_output_shape(shapes):
        shape1, shape2 = shapes
        return (shape1[0], 1)

    def contrastive_loss(y_true, y_pred):
        margin = 1
        square_pred = K.square(y_pred)
        margin_square = K.square(K.maximum(margin - y_pred, 0))
        return K.mean(y_true * square_pred + (1 - y_true) * margin_square)

    def accuracy(y_true, y_pred):
        return K.mean(K.equal(y_true, K.cast(y_pred < 0.5, y_true.dtype)))

    base = Sequential([Dense(32, activation="relu", input_shape=(16,)), Dropout(0.1), Dense(16, activation="relu")])
    input_a, input_b = Input(shape=(16,)), Input(shape=(16,))
    distance = Lambda(euclidean_distance, output_shape=eucl_dist_output_shape)([base(input_a), base(input_b)])
    model = Model([input_a, input_b], distance)
    model.compile(loss=contrastive_loss, optimizer=RMSprop(), metrics=[accuracy])
    rng = np.random.default_rng(0)
    pairs = rng.random((64, 2, 16)).astype("float32")
    labels = rng.integers(0, 2, 64).astype("float32")
    history = model.fit([pairs[:, 0], pairs[:, 1]], labels, batch_size=16, epochs=1, verbose=0,
                        validation_data=([pairs[:8, 0], pairs[:8, 1]], labels[:8]))
    assert sorted(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert model.predict([pairs[:, 0], pairs[:, 1]]).shape == (64, 1)


class Antirectifier(Layer):
    """keras/examples/antirectifier.py's layer, as written there (K.* only)."""

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        assert len(shape) == 2
        shape[-1] *= 2
        return tuple(shape)

    def call(self, inputs):
        inputs -= K.mean(inputs, axis=1, keepdims=True)
        inputs = K.l2_normalize(inputs, axis=1)
        pos = K.relu(inputs)
        neg = K.relu(-inputs)
        return K.concatenate([pos, neg], axis=1)


def test_antirectifier_custom_layer_trains_and_reloads(tmp_path):
    model = Sequential([Dense(32, input_shape=(20,)), Antirectifier(), Dropout(0.1), Dense(16), Antirectifier(),
                        Dense(4), Activation("softmax")])
    model.compile(loss="categorical_crossentropy", optimizer="rmsprop", metrics=["accuracy"])
    rng = np.random.default_rng(1)
    x, y = rng.random((48, 20)).astype("float32"), np.eye(4)[rng.integers(0, 4, 48)]
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert model.layers[1].output_shape == (None, 64)
    path = str(tmp_path / "antirectifier.h5")
    model.save(path)
    reloaded = load_model(path, custom_objects={"Antirectifier": Antirectifier})
    np.testing.assert_allclose(reloaded.predict(x), model.predict(x), rtol=1e-5, atol=1e-6)


def test_variational_autoencoder_with_add_loss_in_backend_ops():
    # keras/examples/variational_autoencoder.py (MLP), shrunk: the loss is added from symbolic tensors.
    from fitgen.losses import binary_crossentropy
    original_dim, intermediate_dim, latent_dim = 24, 16, 2

    def sampling(args):
        z_mean, z_log_var = args
        batch = K.shape(z_mean)[0]
        dim = K.int_shape(z_mean)[1]
        epsilon = K.random_normal(shape=(batch, dim))
        return z_mean + K.exp(0.5 * z_log_var) * epsilon

    inputs = Input(shape=(original_dim,), name="encoder_input")
    x = Dense(intermediate_dim, activation="relu")(inputs)
    z_mean = Dense(latent_dim, name="z_mean")(x)
    z_log_var = Dense(latent_dim, name="z_log_var")(x)
    z = Lambda(sampling, output_shape=(latent_dim,), name="z")([z_mean, z_log_var])
    encoder = Model(inputs, [z_mean, z_log_var, z], name="encoder")
    latent_inputs = Input(shape=(latent_dim,), name="z_sampling")
    decoded = Dense(original_dim, activation="sigmoid")(Dense(intermediate_dim, activation="relu")(latent_inputs))
    decoder = Model(latent_inputs, decoded, name="decoder")
    outputs = decoder(encoder(inputs)[2])
    vae = Model(inputs, outputs, name="vae_mlp")

    reconstruction_loss = binary_crossentropy(inputs, outputs)
    reconstruction_loss *= original_dim
    kl_loss = 1 + z_log_var - K.square(z_mean) - K.exp(z_log_var)
    kl_loss = K.sum(kl_loss, axis=-1)
    kl_loss *= -0.5
    vae_loss = K.mean(reconstruction_loss + kl_loss)
    vae.add_loss(vae_loss)
    vae.compile(optimizer="adam")
    data = np.random.default_rng(2).random((64, original_dim)).astype("float32")
    history = vae.fit(data, epochs=2, batch_size=16, validation_data=(data, None), verbose=0)
    assert list(history.history) == ["loss", "val_loss"]
    assert history.history["loss"][1] < history.history["loss"][0]
    assert encoder.predict(data)[0].shape == (64, latent_dim)


def test_acgan_style_alternating_training():
    # keras/examples/mnist_acgan.py's recipe, shrunk: a discriminator with two outputs (real/fake, class),
    # frozen inside the combined model, trained alternately with train_on_batch.
    latent, classes, features = 8, 3, 12

    image = Input(shape=(features,))
    hidden = LeakyReLU(0.2)(Dense(16)(image))
    fake = Dense(1, activation="sigmoid", name="generation")(hidden)
    aux = Dense(classes, activation="softmax", name="auxiliary")(hidden)
    discriminator = Model(image, [fake, aux])
    discriminator.compile(optimizer=Adam(0.0002, 0.5),
                          loss=["binary_crossentropy", "sparse_categorical_crossentropy"])

    noise, image_class = Input(shape=(latent,)), Input(shape=(1,), dtype="int32")
    class_embedding = Flatten()(Embedding(classes, latent)(image_class))
    h = multiply([noise, class_embedding])
    generated = Dense(features, activation="tanh")(BatchNormalization()(Dense(16, activation="relu")(h)))
    generator = Model([noise, image_class], generated)

    discriminator.trainable = False
    fake_out, aux_out = discriminator(generator([noise, image_class]))
    combined = Model([noise, image_class], [fake_out, aux_out])
    combined.compile(optimizer=Adam(0.0002, 0.5), loss=["binary_crossentropy", "sparse_categorical_crossentropy"])

    rng = np.random.default_rng(3)
    real = rng.random((32, features)).astype("float32") * 2 - 1
    real_labels = rng.integers(0, classes, 32)
    import warnings
    for index in range(2):
        batch, labels = real[index * 16:(index + 1) * 16], real_labels[index * 16:(index + 1) * 16]
        z = rng.normal(0, 1, (16, latent)).astype("float32")
        sampled = rng.integers(0, classes, 16)
        generated_images = generator.predict([z, sampled.reshape((-1, 1))], verbose=0)
        x = np.concatenate((batch, generated_images))
        y = np.array([1] * 16 + [0] * 16)
        aux_y = np.concatenate((labels, sampled), axis=0)
        before = discriminator.get_weights()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Keras 2's "Discrepancy between trainable weights" warning
            d_loss = discriminator.train_on_batch(x, [y, aux_y])
        assert len(d_loss) == 3 and all(np.isfinite(d_loss))
        assert any(not np.array_equal(a, b) for a, b in zip(before, discriminator.get_weights()))
        z = rng.normal(0, 1, (32, latent)).astype("float32")
        sampled = rng.integers(0, classes, 32)
        d_weights, g_weights = discriminator.get_weights(), generator.get_weights()
        g_loss = combined.train_on_batch([z, sampled.reshape((-1, 1))], [np.ones(32), sampled])
        assert all(np.isfinite(g_loss))
        assert all(np.array_equal(a, b) for a, b in zip(d_weights, discriminator.get_weights()))
        assert any(not np.array_equal(a, b) for a, b in zip(g_weights, generator.get_weights()))


def test_weather_forecasting_script_reuses_one_generator_across_fits():
    # The book's temperature-forecasting chapter: one generator object per split, handed to one fit after another.
    rng = np.random.default_rng(4)
    float_data = np.cumsum(rng.normal(size=(600, 4)), axis=0).astype("float32")
    mean, std = float_data[:400].mean(axis=0), float_data[:400].std(axis=0)
    float_data = (float_data - mean) / std

    def generator(data, lookback, delay, min_index, max_index, shuffle=False, batch_size=16, step=2):
        if max_index is None:
            max_index = len(data) - delay - 1
        i = min_index + lookback
        while 1:
            if shuffle:
                rows = np.random.randint(min_index + lookback, max_index, size=batch_size)
            else:
                if i + batch_size >= max_index:
                    i = min_index + lookback
                rows = np.arange(i, min(i + batch_size, max_index))
                i += len(rows)
            samples = np.zeros((len(rows), lookback // step, data.shape[-1]))
            targets = np.zeros((len(rows),))
            for j, row in enumerate(rows):
                indices = range(rows[j] - lookback, rows[j], step)
                samples[j] = data[indices]
                targets[j] = data[rows[j] + delay][1]
            yield samples[:, ::-1], targets  # a reversed-time variant, as the chapter tries

    lookback, delay = 20, 4
    train_gen = generator(float_data, lookback, delay, 0, 400, shuffle=True)
    val_gen = generator(float_data, lookback, delay, 401, 500)
    model = Sequential([GRU(8, input_shape=(None, float_data.shape[-1])), Dense(1)])
    model.compile(optimizer=RMSprop(), loss="mae")
    epochs = []
    for _ in range(3):  # the chapter calls fit_generator again and again with the same generators
        history = model.fit_generator(train_gen, steps_per_epoch=4, epochs=1, validation_data=val_gen,
                                      validation_steps=2, verbose=0)
        epochs.append(len(history.history["loss"]))
    assert epochs == [1, 1, 1]
    assert all(np.isfinite(history.history["val_loss"]))


def test_keras_2_custom_metric_and_loss_with_backend_ops_in_compile():
    def rmse(y_true, y_pred):
        return K.sqrt(K.mean(K.square(y_pred - y_true), axis=-1))

    def huber(y_true, y_pred, delta=1.0):
        error = y_true - y_pred
        quadratic = K.minimum(K.abs(error), delta)
        return K.mean(0.5 * K.square(quadratic) + delta * (K.abs(error) - quadratic), axis=-1)

    inputs = Input((6,))
    model = Model(inputs, Dense(1)(Concatenate()([Dense(4)(inputs), inputs])))
    model.compile(optimizer="sgd", loss=huber, metrics=[rmse, "mae"])
    rng = np.random.default_rng(5)
    x, y = rng.random((40, 6)).astype("float32"), rng.random((40, 1)).astype("float32")
    history = model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert list(history.history) == ["loss", "rmse", "mae"]
    loss, rmse_value, _ = model.evaluate(x, y, batch_size=40, verbose=0)
    prediction = model.predict(x)
    assert rmse_value == pytest.approx(np.mean(np.sqrt(np.mean((prediction - y) ** 2, axis=-1))), rel=1e-5)
