"""fit / fit_generator / evaluate_generator / predict_generator on streaming data (issue 4), end to end.

Sequences, generators, torch Datasets and DataLoaders through `model.fit`, with every worker kind: the
seed document's file-reading generator, identical weights whatever the workers, exactly-once batches,
on_epoch_end in the owning process, validation streams, data-wait statistics and the warnings.
"""
import os
import re
import warnings

import numpy as np
import pytest
import torch

import fitgen
from fitgen.callbacks import Callback, History
from fitgen.data import stream
from fitgen.data.pipeline import get_worker_info
from fitgen.layers import Dense, Input, concatenate
from fitgen.utils import Sequence
from helpers.pipeline_sources import Samples

WORKER_KINDS = [
    pytest.param({"workers": 0}, id="main-thread"),
    pytest.param({"workers": 2}, id="2-threads"),
    pytest.param({"workers": 2, "use_multiprocessing": True}, id="2-processes"),
]


# ----------------------------------------------------------------------------- models and data

def two_input_model():
    input_1, input_2 = Input((2,), name="input_1"), Input((3,), name="input_2")
    hidden = Dense(4, activation="tanh")(concatenate([input_1, input_2]))
    model = fitgen.Model([input_1, input_2], Dense(1, name="output")(hidden))
    model.compile("sgd", "mse")
    return model


def dense_model(inputs=4, metrics=None):
    fitgen.backend.set_random_seed(1234)  # same initial weights for every model a test compares
    model = fitgen.Sequential([Dense(3, activation="relu", input_shape=(inputs,)), Dense(1)])
    model.compile("sgd", "mse", metrics=metrics)
    return model


def arrays(samples=48, features=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((samples, features)).astype(np.float32)
    y = (x @ rng.standard_normal((features, 1))).astype(np.float32)
    return x, y


class ArraySequence(Sequence):
    """Batches of fixed arrays; `sizes` gives each batch's row count (batches may differ)."""

    def __init__(self, x, y, sizes, sample_weight=None):
        self.x, self.y, self.sample_weight = x, y, sample_weight
        self.bounds = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
        self.ends = 0
        self.end_pids = []

    def __len__(self):
        return len(self.bounds) - 1

    def __getitem__(self, index):
        lo, hi = self.bounds[index], self.bounds[index + 1]
        if self.sample_weight is None:
            return self.x[lo:hi], self.y[lo:hi]
        return self.x[lo:hi], self.y[lo:hi], self.sample_weight[lo:hi]

    def on_epoch_end(self):
        self.ends += 1
        self.end_pids.append(os.getpid())


class LoggingSequence(Sequence):
    """Appends 'epoch index' to a file on every __getitem__, from whichever thread or process runs it."""

    def __init__(self, log_path, length=6):
        self.log_path, self.length = log_path, length
        self.x, self.y = arrays(length * 4)

    def __len__(self):
        return self.length

    def __getitem__(self, index):
        info = get_worker_info()
        # O_APPEND writes of one short line are atomic: workers' lines never interleave.
        fd = os.open(self.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        try:
            os.write(fd, f"{info.epoch if info is not None else -1} {index}\n".encode())
        finally:
            os.close(fd)
        return self.x[4 * index:4 * index + 4], self.y[4 * index:4 * index + 4]


class SlowSequence(Sequence):
    """Every batch waits `delay` seconds on an Event nobody sets: bounded, and never a bare sleep."""

    def __init__(self, length, delay):
        import threading
        self.length, self.delay, self._never = length, delay, threading.Event()
        self.x, self.y = arrays(4)

    def __len__(self):
        return self.length

    def __getitem__(self, index):
        self._never.wait(self.delay)
        return self.x, self.y


def weights_after(fit, model_fn=dense_model):
    model = model_fn()
    fit(model)
    return model.get_weights()


def assert_same_weights(actual, expected, exact=True):
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        if exact:
            np.testing.assert_array_equal(a, e)
        else:
            np.testing.assert_allclose(a, e, rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------- the seed's example

def test_seed_generate_arrays_from_file_runs_as_written(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "my_file.txt"
    with open(path, "w") as f:
        for _ in range(7):
            a, b, c = rng.standard_normal(2), rng.standard_normal(3), rng.standard_normal(1)
            f.write(",".join(f"{v:.6f}" for v in [*a, *b, *c]) + "\n")

    def process_line(line):
        values = np.array([float(v) for v in line.split(",")], np.float32)
        return values[None, :2], values[None, 2:5], values[None, 5:]

    def generate_arrays_from_file(path):
        while True:
            with open(path) as f:
                for line in f:
                    # create numpy arrays of input data and labels, from each line in the file
                    x1, x2, y = process_line(line)
                    yield ({'input_1': x1, 'input_2': x2}, {'output': y})

    model = two_input_model()
    history = model.fit_generator(generate_arrays_from_file(str(path)), steps_per_epoch=20, epochs=3, verbose=0)
    assert history.epoch == [0, 1, 2]
    assert len(history.history["loss"]) == 3
    assert history.history["loss"][-1] < history.history["loss"][0]
    # The same numbers as training on the file's lines as arrays, one line per batch, in file order.
    lines = [process_line(line) for line in path.read_text().splitlines()]
    stream_of_lines = [lines[i % len(lines)] for i in range(60)]
    reference = two_input_model_like(model)
    x1 = np.concatenate([item[0] for item in stream_of_lines])
    x2 = np.concatenate([item[1] for item in stream_of_lines])
    y = np.concatenate([item[2] for item in stream_of_lines])
    reference.fit({"input_1": x1, "input_2": x2}, {"output": y}, batch_size=1, epochs=1, shuffle=False, verbose=0)
    assert_same_weights(model.get_weights(), reference.get_weights(), exact=False)


def two_input_model_like(trained):
    """A fresh two-input model with the initial weights `trained` started from (same seed)."""
    fitgen.backend.clear_session()
    fitgen.backend.set_random_seed(1234)
    return two_input_model()


# ----------------------------------------------------------------------------- workers give the same result

def test_sequence_gives_identical_weights_for_every_worker_kind():
    x, y = arrays(40)
    sizes = [8, 8, 8, 8, 8]
    reference = weights_after(lambda m: m.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0))
    for options in ({"workers": 0}, {"workers": 2}, {"workers": 2, "use_multiprocessing": True}):
        fit = weights_after(lambda m, options=options: m.fit(ArraySequence(x, y, sizes), epochs=2, shuffle=False, verbose=0,
                                            **options))
        fit_generator = weights_after(lambda m, options=options: m.fit_generator(ArraySequence(x, y, sizes), epochs=2,
                                                                shuffle=False, verbose=0, **options))
        assert_same_weights(fit, reference)
        assert_same_weights(fit_generator, reference)


@pytest.mark.parametrize("options", WORKER_KINDS)
def test_shuffle_visits_every_batch_once_per_epoch_and_reshuffles(tmp_path, options):
    log = tmp_path / "calls.txt"
    sequence = LoggingSequence(str(log), length=8)
    dense_model().fit(sequence, epochs=3, shuffle=True, verbose=0, **options)
    lines = [tuple(map(int, line.split())) for line in log.read_text().split("\n") if line]
    assert len(lines) == 24  # nothing produced twice, nothing produced ahead into a 4th epoch
    if options["workers"] == 0:
        orders = [[index for _, index in lines[8 * e:8 * e + 8]] for e in range(3)]
    else:  # workers know the epoch they produce for
        orders = [[index for epoch, index in lines if epoch == e] for e in range(3)]
    for order in orders:
        assert sorted(order) == list(range(8))
    assert len({tuple(order) for order in orders}) > 1, f"batch order did not change between epochs: {orders}"


@pytest.mark.parametrize("options", WORKER_KINDS)
def test_on_epoch_end_runs_once_per_epoch_in_the_main_process(options):
    x, y = arrays(24)
    train, validation = ArraySequence(x, y, [8, 8, 8]), ArraySequence(x[:12], y[:12], [6, 6])
    history = dense_model().fit(train, validation_data=validation, epochs=3, verbose=0, **options)
    assert train.ends == 3 and train.end_pids == [os.getpid()] * 3
    assert validation.ends == 3 and validation.end_pids == [os.getpid()] * 3
    assert len(history.history["val_loss"]) == 3


def test_steps_per_epoch_shorter_than_the_sequence(tmp_path):
    log = tmp_path / "calls.txt"
    sequence = LoggingSequence(str(log), length=6)
    calls = []

    class Count(Callback):
        def on_epoch_end(self, epoch, logs=None):
            calls.append(epoch)

    history = dense_model().fit(sequence, steps_per_epoch=3, epochs=2, shuffle=False, verbose=0, workers=0,
                                callbacks=[Count()])
    # tf-keras semantics: each epoch starts a fresh pass at index 0 and skips the tail.
    indices = [int(line.split()[1]) for line in log.read_text().split("\n") if line]
    assert indices == [0, 1, 2, 0, 1, 2]
    assert calls == [0, 1] and len(history.history["loss"]) == 2


# ----------------------------------------------------------------------------- item structure

def test_generator_items_with_sample_weights_match_arrays():
    x, y = arrays(32)
    weights = np.tile([1.0, 0.0, 2.0, 0.5], 8).astype(np.float32)

    def items():
        while True:
            for lo in range(0, 32, 8):
                yield x[lo:lo + 8], y[lo:lo + 8], weights[lo:lo + 8]

    streamed = weights_after(lambda m: m.fit_generator(items(), steps_per_epoch=4, epochs=2, verbose=0))
    reference = weights_after(lambda m: m.fit(x, y, sample_weight=weights, batch_size=8, epochs=2, shuffle=False,
                                              verbose=0))
    assert_same_weights(streamed, reference, exact=False)


@pytest.mark.parametrize("options", WORKER_KINDS)
def test_batches_of_different_sizes_and_dicts(options):
    x, y = arrays(30, features=5)
    sizes = [1, 7, 3, 12, 7]

    class DictSequence(ArraySequence):
        def __getitem__(self, index):
            lo, hi = self.bounds[index], self.bounds[index + 1]
            return {"input_1": self.x[lo:hi, :2], "input_2": self.x[lo:hi, 2:]}, {"output": self.y[lo:hi]}

    model = two_input_model()
    history = model.fit(DictSequence(x, y, sizes), epochs=2, shuffle=False, verbose=0, **options)
    assert len(history.history["loss"]) == 2
    reference = two_input_model_like(model)
    for _ in range(2):
        for lo, hi in zip(np.cumsum([0] + sizes)[:-1], np.cumsum(sizes)):
            reference.train_on_batch([x[lo:hi, :2], x[lo:hi, 2:]], y[lo:hi])
    assert_same_weights(model.get_weights(), reference.get_weights(), exact=False)


# ----------------------------------------------------------------------------- validation, evaluate, predict

def test_validation_data_as_generator_and_as_sequence():
    x, y = arrays(24)
    x_val, y_val = arrays(12, seed=1)

    def validation_generator():
        while True:
            for lo in range(0, 12, 4):
                yield x_val[lo:lo + 4], y_val[lo:lo + 4]

    model = dense_model()
    history = model.fit(ArraySequence(x, y, [8, 8, 8]), validation_data=validation_generator(),
                        validation_steps=3, epochs=2, verbose=0)
    expected = model.evaluate(x_val, y_val, batch_size=4, verbose=0)
    assert len(history.history["val_loss"]) == 2
    assert history.history["val_loss"][-1] == pytest.approx(expected, rel=1e-5)

    model = dense_model()
    history = model.fit_generator(ArraySequence(x, y, [8, 8, 8]), validation_data=ArraySequence(
        x_val, y_val, [5, 7]), epochs=2, verbose=0, workers=2, use_multiprocessing=True)
    assert history.history["val_loss"][-1] == pytest.approx(model.evaluate(x_val, y_val, verbose=0), rel=1e-5)


@pytest.mark.parametrize("options", WORKER_KINDS)
def test_evaluate_generator_is_the_weighted_mean_over_all_batches(options):
    x, y = arrays(23)
    weights = np.linspace(0.0, 2.0, 23).astype(np.float32)
    model = dense_model(metrics=["mae"])
    sizes = [10, 10, 3]  # a small last batch: Keras 2.3.1 reported it instead of the mean
    result = model.evaluate_generator(ArraySequence(x, y, sizes, sample_weight=weights), **options)
    expected = model.evaluate(x, y, sample_weight=weights, batch_size=len(x), verbose=0)
    np.testing.assert_allclose(result, expected, rtol=1e-5)
    last_batch = model.evaluate(x[20:], y[20:], sample_weight=weights[20:], verbose=0)
    assert not np.allclose(result, last_batch)


def test_predict_generator_keeps_order_with_two_process_workers():
    x, y = arrays(41)
    model = dense_model()
    sizes = [9, 1, 9, 9, 13]
    predicted = model.predict_generator(ArraySequence(x, y, sizes), workers=2, use_multiprocessing=True)
    np.testing.assert_allclose(predicted, model.predict(x, batch_size=9), rtol=1e-6)

    def inputs_only():
        for lo, hi in zip(np.cumsum([0] + sizes)[:-1], np.cumsum(sizes)):
            yield x[lo:hi]
    streamed = model.predict(inputs_only(), steps=len(sizes), workers=1, use_multiprocessing=True)
    np.testing.assert_allclose(streamed, model.predict(x), rtol=1e-6)


# ----------------------------------------------------------------------------- torch data

def test_torch_dataset_and_dataloader_as_fit_data():
    x, y = arrays(40)
    dataset = Samples(x, y)
    reference = weights_after(lambda m: m.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0))
    assert_same_weights(weights_after(lambda m: m.fit(dataset, epochs=2, shuffle=False, verbose=0)), reference)
    loader = torch.utils.data.DataLoader(dataset, batch_size=16, shuffle=False)
    reference = weights_after(lambda m: m.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0))
    assert_same_weights(weights_after(lambda m: m.fit(loader, epochs=2, verbose=0)), reference, exact=False)


# ----------------------------------------------------------------------------- statistics and warnings

def test_history_records_data_wait_beside_keras_logs_and_the_bar_shows_it(capsys):
    x, y = arrays(24)
    history = dense_model().fit(ArraySequence(x, y, [8, 8, 8]), epochs=2, verbose=1)
    assert len(history.data_wait) == 2
    assert all(0.0 <= share <= 1.0 for share in history.data_wait)
    assert list(history.history) == ["loss"]  # Keras's keys only: scripts that plot every curve see Keras's
    out = capsys.readouterr().out
    assert len(re.findall(r" - data \d+%", out)) == 2, out
    array_history = dense_model().fit(x, y, epochs=1, verbose=0)
    assert "data_wait" not in array_history.history and array_history.data_wait == []


def test_data_wait_is_logged_on_request():
    x, y = arrays(24)
    history = dense_model().fit(ArraySequence(x, y, [8, 8, 8]), epochs=2, verbose=0,
                                callbacks=[History(log_data_wait=True)])
    assert list(history.history) == ["loss", "data_wait"]
    assert history.history["data_wait"] == history.data_wait


def test_input_bound_warning_appears_once(monkeypatch):
    monkeypatch.setattr(stream, "INPUT_BOUND_MIN_SECONDS", 0.1)
    monkeypatch.setattr(stream, "INPUT_BOUND_MIN_BATCHES", 5)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = dense_model().fit(SlowSequence(6, delay=0.03), epochs=3, verbose=0, workers=0)
    bound = [w for w in caught if "input-bound" in str(w.message)]
    assert len(bound) == 1, [str(w.message) for w in caught]
    assert re.search(r"\d+% of the epoch was spent waiting for data .* workers=0", str(bound[0].message))
    assert all(share > 0.5 for share in history.data_wait)


def test_fast_data_does_not_warn(monkeypatch):
    monkeypatch.setattr(stream, "INPUT_BOUND_MIN_SECONDS", 0.0)
    monkeypatch.setattr(stream, "INPUT_BOUND_MIN_BATCHES", 1)
    monkeypatch.setattr(stream, "INPUT_BOUND_SHARE", 1.0)  # nothing can wait more than all the time
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dense_model().fit(SlowSequence(3, delay=0.0), epochs=2, verbose=0, workers=0)
    assert not [w for w in caught if "input-bound" in str(w.message)]


@pytest.mark.parametrize("use_multiprocessing", [False, True], ids=["threads", "processes"])
def test_plain_generator_with_two_workers_warns_once_and_never_duplicates(use_multiprocessing):
    produced = []

    def numbered():
        for index in range(1000):
            produced.append(index)
            yield np.full((2, 4), index, np.float32), np.zeros((2, 1), np.float32)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dense_model().fit(numbered(), steps_per_epoch=5, epochs=3, verbose=0, workers=2, max_queue_size=4,
                          use_multiprocessing=use_multiprocessing)
    single = [w for w in caught if "single producer" in str(w.message)]
    assert len(single) == 1
    if not use_multiprocessing:  # the producer thread shares `produced`: 15 consumed, a bounded read-ahead
        assert produced == list(range(len(produced))) and 15 <= len(produced) <= 15 + 4 + 2

    # What the model consumed, in order: an identity model's predictions are the generator's numbers.
    model = fitgen.Sequential([Dense(1, use_bias=False, kernel_initializer="ones", input_shape=(1,))])
    model.compile("sgd", "mse")

    def numbered_inputs():
        for index in range(1000):
            yield np.array([[index]], np.float32)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        seen = model.predict(numbered_inputs(), steps=25, workers=2, use_multiprocessing=use_multiprocessing)
    np.testing.assert_array_equal(seen.ravel(), np.arange(25))


def test_finite_generator_ends_training_cleanly_with_a_warning():
    x, y = arrays(4)
    events = []

    class Record(Callback):
        def on_epoch_end(self, epoch, logs=None):
            events.append(("epoch_end", epoch))

        def on_train_end(self, logs=None):
            events.append(("train_end", None))

    def five_batches():
        for _ in range(5):
            yield x, y

    with pytest.warns(UserWarning, match=r"ran out of data.*\(in this case, 12 batches\); 5 batches were seen"):
        history = dense_model().fit_generator(five_batches(), steps_per_epoch=3, epochs=4, verbose=0,
                                              callbacks=[Record()])
    assert history.epoch == [0, 1]
    assert events == [("epoch_end", 0), ("epoch_end", 1), ("train_end", None)]


def test_generator_running_out_on_an_epoch_boundary_records_consistent_history():
    x, y = arrays(4)

    def six_batches():
        for _ in range(6):
            yield x, y

    with pytest.warns(UserWarning, match="6 batches were seen"):
        history = dense_model().fit(six_batches(), steps_per_epoch=3, epochs=4, verbose=0)
    assert history.epoch == [0, 1]
    assert len(history.data_wait) == len(history.history["loss"]) == 2
