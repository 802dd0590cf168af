"""Faults through `model.fit` on streaming data (issue 4): no hang, no leak, no lost error.

Every test is bounded (events, timeouts, sentinels; no long sleeps), and the autouse conftest fails any
test that leaves threads, child processes or /dev/shm segments behind.
"""
import os
import signal
import threading
import time

import numpy as np
import pytest

import fitgen
from fitgen.callbacks import Callback
from fitgen.data.stream import StreamAdapter
from fitgen.layers import Dense, Input, concatenate
from fitgen.utils import Sequence

WORKER_KINDS = [
    pytest.param({"workers": 0}, id="main-thread"),
    pytest.param({"workers": 2}, id="2-threads"),
    pytest.param({"workers": 2, "use_multiprocessing": True}, id="2-processes"),
]
GENERATOR_KINDS = [
    pytest.param({"workers": 0}, id="main-thread"),
    pytest.param({"workers": 1}, id="thread"),
    pytest.param({"workers": 1, "use_multiprocessing": True}, id="process"),
]


def dense_model():
    fitgen.backend.set_random_seed(1234)
    model = fitgen.Sequential([Dense(3, activation="relu", input_shape=(4,)), Dense(1)])
    model.compile("sgd", "mse")
    return model


class Batches(Sequence):
    """Deterministic batches of 4 samples; batch `fail_at` misbehaves as `mode` says.

    mode: 'raise' (ValueError), 'kill' (SIGKILL its own process), 'hang' (waits on `release`, or up to
    60 s in a process, which close() terminates), 'bad_shape' (features the model cannot take).
    `once_marker` (a path) makes 'kill' happen only the first time, across processes.
    """

    def __init__(self, length=8, fail_at=None, mode="raise", once_marker=None, release=None):
        self.length, self.fail_at, self.mode = length, fail_at, mode
        self.once_marker, self.release = once_marker, release
        rng = np.random.default_rng(0)
        self.x = rng.standard_normal((4 * length, 4)).astype(np.float32)
        self.y = rng.standard_normal((4 * length, 1)).astype(np.float32)

    def __len__(self):
        return self.length

    def __getitem__(self, index):
        if index == self.fail_at and self._should_fail():
            self._misbehave(index)
            if self.mode == "bad_shape":
                return np.zeros((4, 7), np.float32), self.y[:4]
        return self.x[4 * index:4 * index + 4], self.y[4 * index:4 * index + 4]

    def _misbehave(self, index):
        if self.mode == "raise":
            raise ValueError(f"corrupt record in batch {index}")
        if self.mode == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if self.mode == "hang":
            (self.release or threading.Event()).wait(10 if self.release is not None else 60)

    def _should_fail(self):
        if self.once_marker is None:
            return True
        try:
            fd = os.open(self.once_marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return False
        os.close(fd)
        return True


def failing_generator(fail_at=3):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((4, 4)).astype(np.float32), rng.standard_normal((4, 1)).astype(np.float32)
    for index in range(100):
        if index == fail_at:
            raise KeyError(f"missing file for item {index}")
        yield x, y


# ----------------------------------------------------------------------------- errors in user code

@pytest.mark.parametrize("options", WORKER_KINDS)
def test_sequence_exception_reaches_the_caller_with_traceback_and_index(options):
    with pytest.raises(ValueError) as info:
        dense_model().fit(Batches(fail_at=5), epochs=2, verbose=0, **options)
    text = str(info.value)
    assert "batch 5" in text
    assert "Original traceback" in text and "in __getitem__" in text and "_misbehave" in text
    assert "corrupt record in batch 5" in text


@pytest.mark.parametrize("options", GENERATOR_KINDS)
def test_generator_exception_reaches_the_caller_with_traceback_and_index(options):
    with pytest.raises(KeyError) as info:
        dense_model().fit_generator(failing_generator(fail_at=3), steps_per_epoch=2, epochs=3, verbose=0,
                                    **options)
    text = str(info.value)
    assert "batch 3" in text and "in failing_generator" in text and "missing file for item 3" in text


@pytest.mark.parametrize("options", WORKER_KINDS)
def test_exception_in_the_training_step_stops_the_workers(options):
    # Batch 2 has 7 features for a 4-feature model: the step fails, workers must still all stop.
    with pytest.raises(Exception, match=r"(?i)shape|size|mat"):
        dense_model().fit(Batches(fail_at=2, mode="bad_shape"), epochs=1, verbose=0, **options)


# ----------------------------------------------------------------------------- dead workers

def test_killed_worker_is_restarted_and_training_completes_identically(tmp_path):
    undisturbed = dense_model()
    undisturbed.fit(Batches(), epochs=2, shuffle=False, verbose=0, workers=0)
    model = dense_model()
    marker = str(tmp_path / "died_once")
    with pytest.warns(RuntimeWarning, match=r"worker process \d died \(killed by signal SIGKILL\) while producing "
                                            r"batch 3; restarting it and retrying the batch once"):
        history = model.fit(Batches(fail_at=3, mode="kill", once_marker=marker), epochs=2, shuffle=False,
                            verbose=0, workers=2, use_multiprocessing=True)
    assert os.path.exists(marker)
    assert len(history.history["loss"]) == 2
    for actual, expected in zip(model.get_weights(), undisturbed.get_weights()):
        np.testing.assert_array_equal(actual, expected)


def test_worker_killed_every_time_raises_promptly():
    started = time.monotonic()
    with pytest.raises(RuntimeError, match=r"died \(killed by signal SIGKILL\) while producing batch 3.*already "
                                           r"been restarted once"):
        with pytest.warns(RuntimeWarning, match="restarting it"):
            dense_model().fit(Batches(fail_at=3, mode="kill"), epochs=1, verbose=0, workers=2,
                              use_multiprocessing=True)
    assert time.monotonic() - started < 5.0


def test_killed_generator_process_raises_instead_of_hanging():
    def dies_at_three():
        x, y = np.zeros((4, 4), np.float32), np.zeros((4, 1), np.float32)
        for index in range(100):
            if index == 3:
                os.kill(os.getpid(), signal.SIGKILL)
            yield x, y

    started = time.monotonic()
    with pytest.raises(RuntimeError, match=r"generator's producer process died .* batch 3"):
        dense_model().fit(dies_at_three(), steps_per_epoch=10, verbose=0, workers=1, use_multiprocessing=True)
    assert time.monotonic() - started < 5.0


# ----------------------------------------------------------------------------- timeout

@pytest.mark.parametrize("use_multiprocessing", [False, True], ids=["thread", "process"])
def test_stream_adapter_timeout_bounds_one_batch(use_multiprocessing):
    release = threading.Event()
    data = Batches(fail_at=1, mode="hang", release=None if use_multiprocessing else release)
    adapter = StreamAdapter(dense_model(), data, workers=1, use_multiprocessing=use_multiprocessing, timeout=0.5)
    started = time.monotonic()
    try:
        with pytest.raises(TimeoutError, match=r"batch 1 was not produced within timeout=0.5 s"):
            for _ in adapter.epoch_batches(0):
                pass
    finally:
        release.set()
        adapter.close()
    assert time.monotonic() - started < 3.0


@pytest.mark.parametrize("use_multiprocessing", [False, True], ids=["thread", "process"])
def test_fit_timeout_bounds_one_batch(use_multiprocessing):
    release = threading.Event()
    data = Batches(fail_at=2, mode="hang", release=None if use_multiprocessing else release)
    started = time.monotonic()
    try:
        with pytest.raises(TimeoutError, match=r"batch 2 was not produced within timeout=0.5 s"):
            dense_model().fit(data, epochs=1, verbose=0, workers=1, use_multiprocessing=use_multiprocessing,
                              timeout=0.5)
        with pytest.raises(TimeoutError, match="timeout=0.5"):
            dense_model().fit_generator(data, epochs=1, verbose=0, workers=1,
                                        use_multiprocessing=use_multiprocessing, timeout=0.5)
    finally:
        release.set()
    assert time.monotonic() - started < 5.0


# ----------------------------------------------------------------------------- Ctrl-C

@pytest.mark.parametrize("hook", ["on_train_batch_begin", "on_train_batch_end"])
def test_keyboard_interrupt_stops_workers_and_keeps_the_last_finished_step(hook):
    snapshots = []

    class Interrupt(Callback):
        def on_train_batch_end(self, batch, logs=None):
            snapshots.append(self.model.get_weights())
            if hook == "on_train_batch_end" and len(snapshots) == 11:
                raise KeyboardInterrupt

        def on_train_batch_begin(self, batch, logs=None):
            if hook == "on_train_batch_begin" and len(snapshots) == 11:
                raise KeyboardInterrupt

    model = dense_model()
    with pytest.raises(KeyboardInterrupt):
        model.fit(Batches(length=8), epochs=3, verbose=0, workers=2, use_multiprocessing=True,
                  callbacks=[Interrupt()])
    assert len(snapshots) == 11  # interrupted in the second epoch, after 11 finished steps
    for actual, expected in zip(model.get_weights(), snapshots[-1]):
        np.testing.assert_array_equal(actual, expected)


# ----------------------------------------------------------------------------- malformed items

def two_input_model():
    input_1, input_2 = Input((2,), name="input_1"), Input((3,), name="input_2")
    model = fitgen.Model([input_1, input_2], Dense(1, name="output")(concatenate([input_1, input_2])))
    model.compile("sgd", "mse")
    return model


X1, X2, Y = np.ones((4, 2), np.float32), np.ones((4, 3), np.float32), np.ones((4, 1), np.float32)
MALFORMED = [
    pytest.param(X1, r"should be a tuple `\(x, y, sample_weight\)` or `\(x, y\)`\. Found: ndarray of shape \(4, 2\)",
                 id="not-a-tuple"),
    pytest.param(None, r"should be a tuple .* Found: None", id="none"),
    pytest.param(([X1, X2], Y, Y, Y), r"should be a tuple .* Found: tuple of length 4", id="wrong-length"),
    pytest.param(([X1, X2], Y[:3]), r"batch 0 .* Found 4 input samples and 3 target samples", id="sample-counts"),
    pytest.param(([X1[:3], X2], Y), r"batch 0 .*(3|4).*(3|4)", id="input-counts"),
    pytest.param(({"input_1": X1, "bogus": X2}, Y), r"`x` has keys \['bogus'\] that name no model input\. The "
                 r"model's input names are \['input_1', 'input_2'\]", id="input-key"),
    pytest.param(([X1, X2], {"nope": Y}), r"`y` has keys \['nope'\] that name no model output", id="output-key"),
]


@pytest.mark.parametrize("item,message", MALFORMED)
@pytest.mark.parametrize("options", GENERATOR_KINDS)
def test_malformed_generator_output_raises_value_error(item, message, options):
    def repeat():
        while True:
            yield item

    with pytest.raises(ValueError, match=message):
        two_input_model().fit_generator(repeat(), steps_per_epoch=2, verbose=0, **options)
