"""Keras 2.2.4 behaviours of fit_generator & co. with generators: workers=0 with use_multiprocessing=True runs in
the main thread, and a plain generator with several process workers warns (fitgen runs it in one producer)."""
import os
import threading
import warnings

import numpy as np
import pytest

from fitgen.layers import Dense, Dropout, Input
from fitgen.models import Model, Sequential
from fitgen.utils import Sequence


class _Recorder:
    def __init__(self):
        self.where = set()

    def note(self):
        self.where.add((os.getpid(), threading.get_ident()))


def _generator(recorder, inputs_only=False):
    rng = np.random.RandomState(0)
    while True:
        recorder.note()
        x = rng.rand(4, 3).astype("float32")
        yield x if inputs_only else (x, rng.rand(4, 1).astype("float32"))


class _Batches(Sequence):
    def __init__(self, recorder):
        self.recorder = recorder

    def __len__(self):
        return 3

    def __getitem__(self, index):
        self.recorder.note()
        return np.full((4, 3), index, "float32"), np.zeros((4, 1), "float32")


def _model():
    model = Sequential([Dense(1, input_shape=(3,))])
    model.compile("sgd", "mse")
    return model


@pytest.mark.parametrize("kind", ["generator", "Sequence"])
def test_workers_zero_with_use_multiprocessing_runs_in_the_main_thread(kind):
    recorder, model = _Recorder(), _model()

    def data():
        return _generator(recorder) if kind == "generator" else _Batches(recorder)

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # accepted silently, as Keras 2 accepted it
        history = model.fit_generator(data(), steps_per_epoch=3, epochs=2, workers=0, use_multiprocessing=True,
                                      validation_data=data(), validation_steps=2, verbose=0)
        score = model.evaluate_generator(data(), steps=2, workers=0, use_multiprocessing=True)
        predictions = model.predict_generator(data(), steps=2, workers=0, use_multiprocessing=True)
    assert len(history.history["loss"]) == 2 and np.isfinite(score) and predictions.shape == (8, 1)
    assert recorder.where == {(os.getpid(), threading.get_ident())}


def test_generator_with_process_workers_warns_and_a_sequence_does_not():
    # Keras 2.2.4's tests/keras/engine/test_training.py::test_warnings, on a two-input model.
    a, b = Input(shape=(3,), name="input_a"), Input(shape=(3,), name="input_b")
    model = Model([a, b], [Dense(4, name="dense_1")(a), Dropout(0.5, name="dropout")(b)])
    model.compile("rmsprop", "mse", loss_weights=[1., 0.5])

    def gen_data(batch_size):
        while True:
            yield ([np.random.random((batch_size, 3)), np.random.random((batch_size, 3))],
                   [np.random.random((batch_size, 4)), np.random.random((batch_size, 3))])

    class RandomSequence(Sequence):
        def __len__(self):
            return 4

        def __getitem__(self, index):
            return ([np.random.random((3, 3)), np.random.random((3, 3))],
                    [np.random.random((3, 4)), np.random.random((3, 3))])

    with pytest.warns(UserWarning) as caught:
        model.fit_generator(gen_data(4), steps_per_epoch=10, use_multiprocessing=True, workers=2, verbose=0)
    messages = [str(w.message) for w in caught]
    assert any("Sequence" in m and "single producer" in m for m in messages), messages
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit_generator(RandomSequence(), steps_per_epoch=4, use_multiprocessing=True, workers=2, verbose=0)
    assert not [w for w in caught if "Sequence" in str(w.message)]
