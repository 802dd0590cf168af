"""Keras 2's OrderedEnqueuer / GeneratorEnqueuer on fitgen's pipeline: Keras's interface, fitgen's guarantees
(exactly-once order, no duplicated generator, no leaks, dead-worker retry, worker tracebacks). Every test runs
under the autouse leak police of tests/conftest.py (threads, processes, /dev/shm)."""
import gc
import itertools
import os

import numpy as np
import pytest

from fitgen.utils import GeneratorEnqueuer, OrderedEnqueuer, SequenceEnqueuer
from fitgen.utils.data_utils import GeneratorEnqueuer as GeneratorEnqueuerFromDataUtils
from fitgen.utils.data_utils import OrderedEnqueuer as OrderedEnqueuerFromDataUtils
from helpers.pipeline_sources import (CountingSequence, CustomError, EpochSequence, FaultySequence,
                                      counting_generator, raising_generator)

MODES = [pytest.param(False, id="threads"), pytest.param(True, id="processes")]


def _indices(batches):
    return [int(x[0, 0]) for x, _ in batches]


def test_keras2_import_paths():
    assert OrderedEnqueuerFromDataUtils is OrderedEnqueuer and GeneratorEnqueuerFromDataUtils is GeneratorEnqueuer
    assert issubclass(OrderedEnqueuer, SequenceEnqueuer) and issubclass(GeneratorEnqueuer, SequenceEnqueuer)


@pytest.mark.parametrize("use_multiprocessing", MODES)
@pytest.mark.parametrize("workers", [0, 1, 3])
def test_ordered_enqueuer_yields_every_batch_once_per_epoch_in_order(use_multiprocessing, workers):
    enqueuer = OrderedEnqueuer(CountingSequence(length=7), use_multiprocessing=use_multiprocessing)
    assert not enqueuer.is_running()
    enqueuer.start(workers=workers, max_queue_size=3)
    assert enqueuer.is_running()
    batches = enqueuer.get()
    got = [next(batches) for _ in range(7 * 3)]
    enqueuer.stop()
    assert not enqueuer.is_running()
    assert _indices(got) == list(range(7)) * 3
    if use_multiprocessing and workers > 0:
        assert {int(y[1]) for _, y in got} - {os.getpid()}, "batches were not made in worker processes"


@pytest.mark.parametrize("use_multiprocessing", MODES)
def test_ordered_enqueuer_calls_on_epoch_end_between_epochs_in_this_process(use_multiprocessing):
    sequence = EpochSequence(length=3)
    enqueuer = OrderedEnqueuer(sequence, use_multiprocessing=use_multiprocessing)
    enqueuer.start(workers=2, max_queue_size=2)
    batches = enqueuer.get()
    got = [next(batches) for _ in range(9)]
    enqueuer.stop()
    assert [int(b[0]) for b in got] == [0, 1, 2] * 3
    assert [int(b[1]) for b in got] == [0, 0, 0, 1, 1, 1, 2, 2, 2]  # workers see the state on_epoch_end made
    assert sequence.end_pids[:2] == [os.getpid()] * 2


def test_ordered_enqueuer_shuffle_visits_each_index_once_per_epoch():
    enqueuer = OrderedEnqueuer(CountingSequence(length=20), shuffle=True)
    enqueuer.start(workers=2)
    batches = enqueuer.get()
    first, second = _indices(itertools.islice(batches, 20)), _indices(itertools.islice(batches, 20))
    enqueuer.stop()
    assert sorted(first) == sorted(second) == list(range(20))
    assert first != list(range(20)) and first != second


def test_batches_from_processes_stay_valid_after_the_next_one():
    enqueuer = OrderedEnqueuer(CountingSequence(length=4), use_multiprocessing=True)
    enqueuer.start(workers=2, max_queue_size=1)
    kept = list(itertools.islice(enqueuer.get(), 12))
    enqueuer.stop()
    assert _indices(kept) == [0, 1, 2, 3] * 3
    assert [float(x.mean()) for x, _ in kept] == [0.0, 1.0, 2.0, 3.0] * 3


@pytest.mark.parametrize("use_multiprocessing", MODES)
def test_stop_mid_epoch_ends_get_and_frees_everything(use_multiprocessing):
    enqueuer = OrderedEnqueuer(CountingSequence(length=50), use_multiprocessing=use_multiprocessing)
    enqueuer.start(workers=3, max_queue_size=4)
    batches = enqueuer.get()
    assert _indices([next(batches), next(batches)]) == [0, 1]
    enqueuer.stop()
    assert list(batches) == []
    enqueuer.stop()  # idempotent
    enqueuer.start(workers=1)  # a stopped enqueuer starts again, from the first batch
    assert _indices([next(enqueuer.get())]) == [0]
    enqueuer.stop()


@pytest.mark.parametrize("use_multiprocessing", MODES)
def test_garbage_collection_without_stop_leaves_nothing_behind(use_multiprocessing):
    enqueuer = OrderedEnqueuer(CountingSequence(length=20), use_multiprocessing=use_multiprocessing)
    enqueuer.start(workers=2, max_queue_size=3)
    batches = enqueuer.get()
    next(batches)
    del enqueuer, batches
    gc.collect()  # the leak police then checks threads, processes and /dev/shm


def test_get_before_start_is_an_error():
    with pytest.raises(RuntimeError, match="call start"):
        OrderedEnqueuer(CountingSequence()).get()
    with pytest.raises(ValueError, match="workers"):
        OrderedEnqueuer(CountingSequence()).start(workers=-1)
    with pytest.raises(TypeError, match="GeneratorEnqueuer"):
        OrderedEnqueuer(counting_generator())


@pytest.mark.parametrize("use_multiprocessing", MODES)
def test_sequence_error_arrives_with_the_worker_traceback_and_stops_the_enqueuer(use_multiprocessing):
    enqueuer = OrderedEnqueuer(FaultySequence(fail_at=2, mode="raise"), use_multiprocessing=use_multiprocessing)
    enqueuer.start(workers=2)
    batches = enqueuer.get()
    next(batches), next(batches)
    with pytest.raises(ValueError, match="bad sample in batch 2") as info:
        next(batches)
    assert "Original traceback" in str(info.value) and "__getitem__" in str(info.value)
    assert not enqueuer.is_running()


def test_dead_worker_is_restarted_and_its_batch_retried(tmp_path):
    sequence = FaultySequence(length=6, fail_at=3, mode="kill", once_marker=str(tmp_path / "killed"))
    enqueuer = OrderedEnqueuer(sequence, use_multiprocessing=True)
    enqueuer.start(workers=2, max_queue_size=2)
    with pytest.warns(RuntimeWarning, match="died"):
        got = [int(b[0, 0]) for b in itertools.islice(enqueuer.get(), 6)]
    enqueuer.stop()
    assert got == list(range(6))


@pytest.mark.parametrize("use_multiprocessing", MODES)
def test_generator_enqueuer_yields_each_item_once_in_order_and_ends_with_the_generator(use_multiprocessing):
    enqueuer = GeneratorEnqueuer(counting_generator(limit=15), use_multiprocessing=use_multiprocessing, seed=1)
    enqueuer.start(workers=1, max_queue_size=4)
    got = [int(i) for _, i in enqueuer.get()]
    enqueuer.stop()
    assert got == list(range(15))


def test_generator_enqueuer_never_duplicates_with_several_workers():
    enqueuer = GeneratorEnqueuer(counting_generator(limit=12), use_multiprocessing=True)
    with pytest.warns(UserWarning, match="single producer"):
        enqueuer.start(workers=3)
    got = [int(i) for _, i in enqueuer.get()]
    enqueuer.stop()
    assert got == list(range(12))


@pytest.mark.parametrize("use_multiprocessing", MODES)
def test_generator_error_keeps_its_type_and_stops_the_enqueuer(use_multiprocessing):
    enqueuer = GeneratorEnqueuer(raising_generator(3, CustomError), use_multiprocessing=use_multiprocessing)
    enqueuer.start()
    batches = enqueuer.get()
    assert [int(next(batches)[0]) for _ in range(3)] == [0, 1, 2]
    with pytest.raises(CustomError, match="generator broke at item 3"):
        next(batches)
    assert not enqueuer.is_running()


def test_generator_enqueuer_keras2_arguments():
    with pytest.warns(DeprecationWarning, match="wait_time"):
        enqueuer = GeneratorEnqueuer(counting_generator(limit=2), wait_time=0.05, random_seed=3)
    assert enqueuer.seed == 3
    enqueuer.start(workers=0)
    assert [int(i) for _, i in enqueuer.get()] == [0, 1]
    enqueuer.stop()
    with pytest.raises(TypeError, match="unexpected keyword"):
        GeneratorEnqueuer(counting_generator(), colour="red")


def test_empty_sequence_gives_an_empty_stream():
    enqueuer = OrderedEnqueuer(CountingSequence(length=0))
    enqueuer.start()
    assert list(enqueuer.get()) == []
    enqueuer.stop()


def test_training_loop_written_against_keras2_enqueuers():
    from fitgen.layers import Dense
    from fitgen.models import Sequential

    rng = np.random.RandomState(0)
    x, y = rng.rand(64, 3).astype("float32"), rng.rand(64, 1).astype("float32")

    class Batches(CountingSequence):
        def __getitem__(self, index):
            return x[index * 16:(index + 1) * 16], y[index * 16:(index + 1) * 16]

    model = Sequential([Dense(1, input_shape=(3,))])
    model.compile("sgd", "mse")
    enqueuer = OrderedEnqueuer(Batches(length=4), use_multiprocessing=True)
    enqueuer.start(workers=2)
    batches = enqueuer.get()
    losses = [model.train_on_batch(*next(batches)) for _ in range(8)]
    enqueuer.stop()
    assert len(losses) == 8 and np.isfinite(losses).all()
