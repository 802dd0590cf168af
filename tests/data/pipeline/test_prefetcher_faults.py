"""Faults never hang, leak or lose an error: exceptions, dead workers, timeouts, Ctrl-C, bad batches."""
import os
import threading
import time

import numpy as np
import pytest

from fitgen.data.generator import GeneratorSource
from fitgen.data.pipeline import Prefetcher
from tests.helpers.pipeline_sources import CountingSequence
from tests.helpers.pipeline_sources import CustomError
from tests.helpers.pipeline_sources import FaultySequence
from tests.helpers.pipeline_sources import ObjectSequence
from tests.helpers.pipeline_sources import dying_generator
from tests.helpers.pipeline_sources import raising_generator

MODES = {
    "inline": dict(workers=0),
    "threads": dict(workers=2),
    "processes": dict(workers=2, use_multiprocessing=True),
}


def _consume(prefetcher, epoch=0):
    return [int(np.asarray(b).ravel()[0]) for b in prefetcher.iter_epoch(epoch)]


@pytest.mark.parametrize("mode", MODES)
def test_getitem_exception_reaches_caller_with_traceback_and_index(mode):
    with Prefetcher(FaultySequence(fail_at=3, mode="raise"), **MODES[mode]) as prefetcher:
        seen = []
        with pytest.raises(ValueError) as info:
            for batch in prefetcher.iter_epoch(0):
                seen.append(int(batch[0, 0]))
    assert seen == [0, 1, 2]  # batches before the failing one are still delivered, in order
    message = str(info.value)
    assert "batch 3" in message and "bad sample in batch 3" in message
    assert "Traceback" in message and "pipeline_sources.py" in message and "__getitem__" in message


@pytest.mark.parametrize("mode", MODES)
def test_generator_exception_keeps_type_and_position(mode):
    source = GeneratorSource(raising_generator(2, CustomError))
    options = dict(MODES[mode], workers=min(1, MODES[mode]["workers"]))
    with Prefetcher(source, **options) as prefetcher:
        with pytest.raises(CustomError, match="batch 2") as info:
            _consume(prefetcher)
    assert "generator broke at item 2" in str(info.value)


class Picky(Exception):
    """An exception whose constructor wants two arguments (it cannot be rebuilt from one message)."""

    def __init__(self, a, b):
        super().__init__(a, b)
        self.b = b


class PickySequence(CountingSequence):
    def __init__(self, b=2):
        super().__init__()
        self.b = b

    def __getitem__(self, index):
        raise Picky(1, self.b)


@pytest.mark.parametrize("mode", ["threads", "processes"])
def test_exception_type_that_needs_arguments_keeps_its_type_and_attributes(mode):
    options = dict(MODES[mode], workers=1)
    with Prefetcher(PickySequence(), **options) as prefetcher:
        with pytest.raises(Picky) as info:
            _consume(prefetcher)
    assert info.value.b == 2
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "while producing batch 0" in notes and "Original traceback" in notes


def test_exception_that_cannot_cross_processes_becomes_runtime_error():
    with Prefetcher(PickySequence(b=threading.Lock()), workers=1, use_multiprocessing=True) as prefetcher:
        with pytest.raises(RuntimeError, match="Picky.*batch 0"):
            _consume(prefetcher)


@pytest.mark.parametrize("how", ["kill", "exit"])
def test_dead_worker_is_restarted_and_batch_retried(tmp_path, how):
    source = FaultySequence(length=8, fail_at=3, mode=how, once_marker=str(tmp_path / "died"))
    with Prefetcher(source, workers=2, use_multiprocessing=True, max_queue_size=4) as prefetcher:
        with pytest.warns(RuntimeWarning, match="died .* batch 3; restarting"):
            assert _consume(prefetcher) == list(range(8))
        assert prefetcher.restarts == 1
        assert _consume(prefetcher, 1) == list(range(8))  # the pool is whole again


def test_worker_dying_twice_on_a_batch_raises_clear_error_quickly():
    source = FaultySequence(length=6, fail_at=2, mode="kill")
    started = time.monotonic()
    with Prefetcher(source, workers=2, use_multiprocessing=True) as prefetcher:
        with pytest.warns(RuntimeWarning):
            with pytest.raises(RuntimeError, match=r"died \(killed by signal SIGKILL\) while producing batch 2"):
                _consume(prefetcher)
    assert time.monotonic() - started < 5


def test_segfaulting_worker_names_exit_code():
    source = FaultySequence(length=4, fail_at=1, mode="exit")
    with Prefetcher(source, workers=1, use_multiprocessing=True) as prefetcher:
        with pytest.warns(RuntimeWarning):
            with pytest.raises(RuntimeError, match="exit code 3.*batch 1"):
                _consume(prefetcher)


def test_dead_generator_producer_cannot_be_retried():
    with Prefetcher(GeneratorSource(dying_generator(3)), workers=1, use_multiprocessing=True) as prefetcher:
        with pytest.raises(RuntimeError, match="producer process died .*batch 3.*state lives .* is lost"):
            list(prefetcher.iter_epoch(0, steps=10))


def test_hung_process_worker_times_out_and_is_terminated():
    source = FaultySequence(length=5, fail_at=1, mode="hang")
    started = time.monotonic()
    with Prefetcher(source, workers=1, use_multiprocessing=True, timeout=0.5) as prefetcher:
        with pytest.raises(TimeoutError, match=r"batch 1 was not produced within timeout=0.5 s"):
            _consume(prefetcher)
    assert time.monotonic() - started < 5  # close() terminated the sleeping worker


def test_hung_thread_worker_times_out():
    release = threading.Event()
    source = FaultySequence(length=5, fail_at=2, mode="hang", release=release)
    try:
        with Prefetcher(source, workers=2, timeout=0.3) as prefetcher:
            with pytest.raises(TimeoutError, match="batch 2"):
                _consume(prefetcher)
    finally:
        release.set()  # a thread inside user code cannot be killed; let it return


@pytest.mark.parametrize("mode", MODES)
def test_keyboard_interrupt_in_consumer_cleans_everything(mode):
    with pytest.raises(KeyboardInterrupt):
        with Prefetcher(CountingSequence(length=50), max_queue_size=5, **MODES[mode]) as prefetcher:
            for step, _ in enumerate(prefetcher.iter_epoch(0)):
                if step == 3:
                    raise KeyboardInterrupt
    # the conftest's leak police checks threads, processes and /dev/shm after this test


def test_unclosed_prefetcher_is_cleaned_by_its_finalizer():
    prefetcher = Prefetcher(CountingSequence(length=5), workers=2, use_multiprocessing=True)
    assert len(list(prefetcher.iter_epoch(0))) == 5
    prefix = prefetcher._slots.prefix
    del prefetcher
    assert not [n for n in os.listdir("/dev/shm") if n.startswith(prefix)]


def test_object_arrays_cannot_cross_processes():
    with Prefetcher(ObjectSequence(), workers=1, use_multiprocessing=True) as prefetcher:
        with pytest.raises(TypeError, match="Batch 0 holds a NumPy array of dtype object"):
            _consume(prefetcher)


_SPAWN_SCRIPT = """
import numpy as np, pytest
from fitgen.data.pipeline import Prefetcher
from tests.helpers.pipeline_sources import CountingSequence, EpochSequence

class Plain(CountingSequence):
    def __init__(self):
        super().__init__(length=5)
        del self._lock
    def __getitem__(self, index):
        return np.full((2,), index)

with Prefetcher(EpochSequence(length=3), workers=2, use_multiprocessing=True, start_method="spawn") as p:
    seen = [[tuple(int(v) for v in b[:2]) for b in p.iter_epoch(e)] for e in range(2)]
assert seen == [[(0, 0), (1, 0), (2, 0)], [(0, 1), (1, 1), (2, 1)]], seen
with pytest.raises(TypeError, match="spawn.*cannot be pickled"):
    Prefetcher(CountingSequence(), workers=1, use_multiprocessing=True, start_method="spawn").start()
print("spawn ok")
"""


def test_spawn_start_method_works_for_picklable_sources_and_explains_the_rest():
    # In a child interpreter: 'spawn' starts multiprocessing's resource tracker, a helper process that
    # would outlive this test.
    import subprocess
    import sys
    result = subprocess.run([sys.executable, "-c", _SPAWN_SCRIPT], capture_output=True, text=True, timeout=120,
                            cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__)))))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "spawn ok" in result.stdout


def test_ctrl_c_while_blocked_waiting_for_a_hung_worker():
    import signal

    source = FaultySequence(length=5, fail_at=1, mode="hang")
    main = threading.get_ident()
    timer = threading.Timer(0.3, signal.pthread_kill, args=(main, signal.SIGINT))
    started = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            with Prefetcher(source, workers=2, use_multiprocessing=True) as prefetcher:
                timer.start()
                _consume(prefetcher)
    finally:
        timer.cancel()
        timer.join()
    assert time.monotonic() - started < 4
