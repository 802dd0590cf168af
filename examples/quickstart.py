"""fitgen quickstart: a Keras 2 script with only its imports changed, on data it makes itself.

Trains an MLP on a synthetic 10-class problem with `fit` (in-memory arrays, validation_split,
ModelCheckpoint-free), then again from a `Sequence` with two worker processes via `fit_generator`,
and evaluates both.
"""
import math

import numpy as np

from fitgen.layers import Dense, Dropout
from fitgen.models import Sequential
from fitgen.utils import Sequence, set_random_seed, to_categorical


def make_data(samples=7000, features=20, classes=10, seed=0):
    """Gaussian clusters, one per class; returns (x, one-hot y)."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 1.0, (classes, features))
    labels = rng.integers(0, classes, samples)
    x = (centers[labels] + rng.normal(0, 1.0, (samples, features))).astype("float32")
    return x, to_categorical(labels, classes)


class BatchSequence(Sequence):
    """Batches made on the fly (here: slices with a little noise, as an augmentation would)."""

    def __init__(self, x, y, batch_size=64):
        self.x, self.y, self.batch_size = x, y, batch_size

    def __len__(self):
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, index):
        lo = index * self.batch_size
        x = self.x[lo:lo + self.batch_size]
        return x + np.random.normal(0, 0.05, x.shape).astype("float32"), self.y[lo:lo + self.batch_size]


def build_model(features=20, classes=10):
    model = Sequential()
    model.add(Dense(64, activation="relu", input_shape=(features,)))
    model.add(Dropout(0.2))
    model.add(Dense(64, activation="relu"))
    model.add(Dense(classes, activation="softmax"))
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["acc"])
    return model


def main():
    set_random_seed(0)
    x, y = make_data()
    x, x_test, y, y_test = x[:6000], x[6000:], y[:6000], y[6000:]
    model = build_model()
    model.summary()
    model.fit(x, y, batch_size=128, epochs=5, validation_split=0.1, verbose=1)
    loss, acc = model.evaluate(x_test, y_test, verbose=0)
    print(f"fit: test loss {loss:.4f} - test acc {acc:.4f}")

    streamed = build_model()
    streamed.fit_generator(BatchSequence(x, y), epochs=5, workers=2, use_multiprocessing=True,
                           validation_data=BatchSequence(x_test, y_test), verbose=2)
    loss, acc = streamed.evaluate(x_test, y_test, verbose=0)
    print(f"fit_generator: test loss {loss:.4f} - test acc {acc:.4f}")


if __name__ == "__main__":
    main()
