"""Tiny models and data shared by the callback tests (imported as `cb_models`)."""
import numpy as np

from fitgen.data.sequence import Sequence
from fitgen.engine.sequential import Sequential
from fitgen.layers.core import Dense, Dropout


def tiny_model(metrics=("acc",), dropout=0.0, optimizer="sgd", units=4):
    layers = [Dense(units, activation="relu", input_shape=(3,))]
    if dropout:
        layers.append(Dropout(dropout))
    layers.append(Dense(1, activation="sigmoid"))
    model = Sequential(layers)
    model.compile(optimizer, "binary_crossentropy", metrics=list(metrics))
    return model


def tiny_data(n=16, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 3), dtype=np.float32)
    y = (x.sum(axis=1) > 1.5).astype("float32").reshape(-1, 1)
    return x, y


class ArraySequence(Sequence):
    """Batches of fixed arrays; no randomness of its own."""

    def __init__(self, x, y, batch_size=4):
        self.x, self.y, self.batch_size = x, y, batch_size

    def __len__(self):
        return int(np.ceil(len(self.x) / self.batch_size))

    def __getitem__(self, index):
        lo = index * self.batch_size
        return self.x[lo:lo + self.batch_size], self.y[lo:lo + self.batch_size]
