"""Keras 2 user code written only with the backend (`K.*`): a custom layer, loss and metric that train with fit
and save/load through .h5 with custom_objects (the patterns of Keras 2's antirectifier and siamese examples)."""
import numpy as np
from backend_checks import assert_close

from fitgen import backend as K
from fitgen.engine.base_layer import Layer
from fitgen.layers import Dense, Input, Lambda
from fitgen.models import Model, Sequential, load_model


class Antirectifier(Layer):
    """Keras 2's antirectifier example: centre, l2-normalise, then concatenate the positive and negative parts."""

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        shape[-1] *= 2
        return tuple(shape)

    def call(self, inputs):
        inputs -= K.mean(inputs, axis=1, keepdims=True)
        inputs = K.l2_normalize(inputs, axis=1)
        return K.concatenate([K.relu(inputs), K.relu(-inputs)], axis=1)


class Scale(Layer):
    """A layer with its own weight, built and used through the backend."""

    def build(self, input_shape):
        self.scale = self.add_weight("scale", (input_shape[-1],), initializer="ones")
        super().build(input_shape)

    def call(self, inputs):
        return inputs * K.reshape(self.scale, (1, -1)) + K.zeros_like(inputs)


def contrastive_loss(y_true, y_pred):
    margin = 1
    return K.mean(y_true * K.square(y_pred) + (1 - y_true) * K.square(K.maximum(margin - y_pred, 0)))


def pair_accuracy(y_true, y_pred):
    return K.mean(K.equal(y_true, K.cast(y_pred < 0.5, y_true.dtype)))


def euclidean_distance(vects):
    x, y = vects
    sum_square = K.sum(K.square(x - y), axis=1, keepdims=True)
    return K.sqrt(K.maximum(sum_square, K.epsilon()))


CUSTOM = {"Antirectifier": Antirectifier, "Scale": Scale, "contrastive_loss": contrastive_loss,
          "pair_accuracy": pair_accuracy, "euclidean_distance": euclidean_distance}


def test_antirectifier_layer_trains_and_reloads(tmp_path):
    rng = np.random.RandomState(0)
    x = rng.rand(64, 6).astype("float32")
    y = np.eye(3, dtype="float32")[rng.randint(0, 3, 64)]
    model = Sequential([Dense(8, input_shape=(6,)), Antirectifier(), Scale(), Dense(3, activation="softmax")])
    assert model.layers[1].output_shape == (None, 16)
    model.compile("adam", "categorical_crossentropy", metrics=["acc"])
    history = model.fit(x, y, epochs=4, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    path = str(tmp_path / "antirectifier.h5")
    model.save(path)
    loaded = load_model(path, custom_objects=CUSTOM)
    assert_close(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    hidden = K.function([model.input], [model.layers[1].output])([x])[0]
    assert hidden.shape == (64, 16) and (hidden >= 0).all()


def test_siamese_contrastive_loss_and_metric_train_and_reload(tmp_path):
    rng = np.random.RandomState(1)
    a, b = rng.rand(64, 5).astype("float32"), rng.rand(64, 5).astype("float32")
    same = (rng.rand(64) < 0.5).astype("float32")
    b[same == 1] = a[same == 1] + 0.01
    left, right = Input((5,)), Input((5,))
    base = Dense(4, activation="relu", name="base")
    distance = Lambda(euclidean_distance)([base(left), base(right)])
    assert distance.shape == (None, 1)
    model = Model([left, right], distance)
    model.compile("rmsprop", loss=contrastive_loss, metrics=[pair_accuracy])
    history = model.fit([a, b], same, epochs=5, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert 0.0 <= history.history["pair_accuracy"][-1] <= 1.0
    path = str(tmp_path / "siamese.h5")
    model.save(path)
    loaded = load_model(path, custom_objects=CUSTOM)
    assert_close(loaded.predict([a, b], verbose=0), model.predict([a, b], verbose=0), rtol=1e-6)
    assert_close(loaded.evaluate([a, b], same, verbose=0), model.evaluate([a, b], same, verbose=0), rtol=1e-5)
