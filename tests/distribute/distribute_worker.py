"""Body of each rank in the two-process tests (run by test_distribute.py, never collected by pytest).

Usage: python distribute_worker.py <scenario> <out_dir>, with RANK/WORLD_SIZE/MASTER_* set (torchrun or
by hand). Every scenario writes `<out_dir>/rank<r>.json` (and rank 0 a checkpoint) for the test to check.
The same functions build the single-process reference inside the test process.
"""
import json
import os
import signal
import sys

import numpy as np

from fitgen import backend
from fitgen.callbacks.callback import Callback
from fitgen.data.sequence import Sequence
from fitgen.engine.sequential import Sequential
from fitgen.layers.core import Dense

NUM_TRAIN, NUM_VAL = 101, 101


def data():
    rng = np.random.RandomState(7)
    x = rng.rand(NUM_TRAIN + NUM_VAL, 6).astype("float32")
    y = (x[:, :3].argmax(axis=1) + (x[:, 5] > 0.8)).clip(0, 2).astype("int64")
    return (x[:NUM_TRAIN], y[:NUM_TRAIN]), (x[NUM_TRAIN:], y[NUM_TRAIN:])


def build_model():
    backend.clear_session()
    backend.set_random_seed(1234)
    model = Sequential([Dense(16, activation="relu", input_shape=(6,)), Dense(3, activation="softmax")])
    from fitgen.optimizers import SGD
    model.compile(SGD(learning_rate=0.2, momentum=0.5), "sparse_categorical_crossentropy", metrics=["acc"])
    return model


def train(batch_size, epochs=3):
    """Trains with shuffle=True and validation; the same calls in one process and on every rank."""
    (x, y), (x_val, y_val) = data()
    model = build_model()
    history = model.fit(x, y, batch_size=batch_size, epochs=epochs, shuffle=True, validation_data=(x_val, y_val),
                        verbose=0)
    results = {"history": history.history,
               "evaluate": model.evaluate(x_val, y_val, batch_size=9, verbose=0),
               "predict": model.predict(x_val, batch_size=8).tolist()}
    return model, results


def train_batchnorm(batch_size):
    """A BatchNormalization model synchronised across ranks (a no-op in one process)."""
    from fitgen import distribute
    from fitgen.layers.normalization import BatchNormalization
    (x, y), _ = data()
    backend.clear_session()
    backend.set_random_seed(99)
    model = Sequential([Dense(8, input_shape=(6,)), BatchNormalization(momentum=0.5), Dense(3, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy")
    distribute.sync_batchnorm(model)
    model.fit(x * 3 + 1, y, batch_size=batch_size, epochs=2, shuffle=False, verbose=0)
    return model.get_weights()


def train_custom_step(batch_size):
    """A model with its own train_step (tf-keras's guide): gradients averaged over ranks by its optimizer."""
    from fitgen.engine.input_layer import Input
    from fitgen.engine.model import Model
    from fitgen.optimizers import SGD

    class CustomStep(Model):
        def train_step(self, data):
            x, y = data
            y_pred = self(x, training=True)
            loss = self.compiled_loss(y, y_pred)
            self.optimizer.minimize(loss, self.trainable_weights)
            return {"loss": loss}

    (x, y), _ = data()
    backend.clear_session()
    backend.set_random_seed(1234)
    inputs = Input((6,))
    model = CustomStep(inputs, Dense(3, activation="softmax")(Dense(16, activation="relu")(inputs)))
    model.compile(SGD(learning_rate=0.2, momentum=0.5), "sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=batch_size, epochs=2, shuffle=True, verbose=0)
    return model.get_weights()


def train_custom_gan():
    """The guide's GAN (random noise differs per rank): every rank must keep the same weights."""
    from tests.engine.test_custom_train_step import make_gan
    backend.clear_session()
    backend.set_random_seed(5)
    gan = make_gan()
    (x, _), _ = data()
    gan.fit(x[:, :4], batch_size=8, epochs=1, verbose=0)
    return gan.get_weights()


class IndexSequence(Sequence):
    """Batch i holds the value i in every row, so a step's batch tells which index it came from."""

    def __init__(self, length=7, batch=4):
        self.length, self.batch = length, batch

    def __len__(self):
        return self.length

    def __getitem__(self, index):
        x = np.full((self.batch, 6), float(index), dtype="float32")
        return x, np.zeros(self.batch, dtype="int64")


def sequence_indices(model, context):
    """This rank's trained (non-stand-in) Sequence indices for epochs 0 and 1."""
    from fitgen.data.adapter import get_adapter
    from fitgen.distribute import sharding
    adapter = get_adapter(model, IndexSequence(), shuffle=True, workers=0)
    sharded = sharding.shard(context, adapter, True)
    epochs = []
    try:
        for epoch in range(2):
            seen = []
            for batch in sharded.epoch_batches(epoch):
                if not sharded.padding:
                    seen.append(int(batch[0][0][0, 0].item()))
            epochs.append(seen)
    finally:
        sharded.close()
    return epochs, sharded.num_batches()


class StopOnRankOne(Callback):
    """Asks to stop on rank 1 only, mid-epoch: every rank must stop at the same batch."""

    def __init__(self):
        super().__init__()
        self.batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1
        if batch == 2 and int(os.environ["RANK"]) == 1:
            self.model.stop_training = True


def scenario_main(out_dir):
    from fitgen import distribute
    rank = int(os.environ["RANK"])
    model, results = train(batch_size=10)
    context = distribute.current()
    results["world_size"] = distribute.get_world_size()
    results["rank"] = context.rank
    results["weights"] = [w.tolist() for w in model.get_weights()]
    if distribute.is_chief():
        np.savez(os.path.join(out_dir, "checkpoint.npz"), *model.get_weights())
    results["sequence"], results["sequence_steps"] = sequence_indices(model, context)
    results["batchnorm"] = [w.tolist() for w in train_batchnorm(batch_size=10)]
    results["custom_step"] = [w.tolist() for w in train_custom_step(batch_size=10)]
    results["custom_gan"] = [w.tolist() for w in train_custom_gan()]
    (x, y), _ = data()
    stopper = StopOnRankOne()
    stopped = build_model().fit(x, y, batch_size=10, epochs=3, verbose=0, callbacks=[stopper])
    results["stop"] = {"epochs": len(stopped.history["loss"]), "batches": stopper.batches}
    with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as f:
        json.dump(results, f)


class DieOnRankOne(Callback):
    def on_train_batch_end(self, batch, logs=None):
        if batch == 3 and int(os.environ["RANK"]) == 1:
            os.kill(os.getpid(), signal.SIGKILL)


def scenario_crash(out_dir):
    (x, y), _ = data()
    model = build_model()
    model.fit(x, y, batch_size=4, epochs=50, verbose=0, callbacks=[DieOnRankOne()])


if __name__ == "__main__":
    {"main": scenario_main, "crash": scenario_crash}[sys.argv[1]](sys.argv[2])
