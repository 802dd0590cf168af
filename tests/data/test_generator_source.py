"""Generators through the Prefetcher: one producer, never duplicated, thread-safe, shardable, finite."""
import threading

import numpy as np
import pytest

from fitgen.data.generator import GeneratorSource
from fitgen.data.generator import ShardableIterable
from fitgen.data.generator import is_plain_generator
from fitgen.data.pipeline import Prefetcher
from tests.helpers.pipeline_sources import ShardedRange
from tests.helpers.pipeline_sources import counting_generator
from tests.helpers.pipeline_sources import random_generator

MODES = {
    "inline": dict(workers=0),
    "threads": dict(workers=1),
    "processes": dict(workers=1, use_multiprocessing=True),
}


@pytest.mark.parametrize("mode", MODES)
def test_epochs_continue_one_stream(mode):
    with Prefetcher(GeneratorSource(counting_generator()), **MODES[mode]) as prefetcher:
        epochs = [[int(y) for _, y in prefetcher.iter_epoch(epoch, steps=4)] for epoch in range(3)]
    assert epochs == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]


@pytest.mark.parametrize("use_multiprocessing", [False, True])
def test_plain_generator_is_never_duplicated_with_two_workers(use_multiprocessing):
    with pytest.warns(UserWarning, match="single producer, not in 2 workers"):
        prefetcher = Prefetcher(GeneratorSource(counting_generator()), workers=2,
                                use_multiprocessing=use_multiprocessing)
    with prefetcher:
        items = [int(y) for epoch in range(2) for _, y in prefetcher.iter_epoch(epoch, steps=25)]
    assert items == list(range(50))


def test_generator_is_called_only_for_consumed_batches():
    calls = []

    def generator():
        while True:
            calls.append(1)
            yield np.zeros(2)

    with Prefetcher(GeneratorSource(generator()), workers=1, max_queue_size=10) as prefetcher:
        assert len(list(prefetcher.iter_epoch(0, steps=3))) == 3
        assert len(calls) == 3  # no batches pulled ahead across the epoch boundary (keras#7426)


def test_thread_unsafe_generator_with_four_thread_workers():
    def unsafe():
        # A plain generator: concurrent next() calls would raise "generator already executing".
        i = 0
        while True:
            yield np.full((8,), i)
            i += 1

    with pytest.warns(UserWarning):
        prefetcher = Prefetcher(GeneratorSource(unsafe()), workers=4, max_queue_size=8)
    with prefetcher:
        items = [int(b[0]) for b in prefetcher.iter_epoch(0, steps=200)]
    assert items == list(range(200))


@pytest.mark.parametrize("use_multiprocessing", [False, True])
def test_shardable_iterable_splits_work_round_robin(use_multiprocessing):
    source = GeneratorSource(ShardedRange(11))
    assert source.shardable and not is_plain_generator(source)
    with Prefetcher(source, workers=2, use_multiprocessing=use_multiprocessing) as prefetcher:
        rows = [tuple(int(v) for v in b) for b in prefetcher.iter_epoch(0, steps=50)]
        assert prefetcher.exhausted
    assert [r[0] for r in rows] == list(range(11))  # interleaved shards restore the order here
    assert {r[1] for r in rows} == {0, 1} and all(r[0] % 2 == r[1] for r in rows)


def test_shardable_iterable_inline_takes_everything():
    with Prefetcher(ShardedRange(5), workers=0) as prefetcher:
        rows = [tuple(int(v) for v in b) for b in prefetcher.iter_epoch(0)]
    assert rows == [(i, -1) for i in range(5)]


def test_attribute_marker_opts_into_sharding():
    class Marked:
        shardable = True

        def __iter__(self):
            return iter([np.zeros(1)])

    assert GeneratorSource(Marked()).shardable
    assert issubclass(ShardedRange, ShardableIterable)


@pytest.mark.parametrize("mode", MODES)
def test_finite_generator_exhausts_cleanly(mode):
    with Prefetcher(GeneratorSource(counting_generator(limit=7)), **MODES[mode]) as prefetcher:
        first = [int(y) for _, y in prefetcher.iter_epoch(0, steps=5)]
        assert not prefetcher.exhausted
        second = [int(y) for _, y in prefetcher.iter_epoch(1, steps=5)]
        assert prefetcher.exhausted
        assert list(prefetcher.iter_epoch(2, steps=5)) == []
    assert first == [0, 1, 2, 3, 4] and second == [5, 6]


def test_stream_without_steps_runs_to_its_end():
    with Prefetcher(counting_generator(limit=4), workers=1) as prefetcher:
        assert [int(y) for _, y in prefetcher.iter_epoch(0)] == [0, 1, 2, 3]
        assert prefetcher.exhausted


def test_abandoned_stream_epoch_keeps_prefetched_items_for_the_next():
    with Prefetcher(GeneratorSource(counting_generator()), workers=1, max_queue_size=4) as prefetcher:
        iterator = prefetcher.iter_epoch(0, steps=6)
        assert [int(next(iterator)[1]) for _ in range(2)] == [0, 1]
        assert [int(y) for _, y in prefetcher.iter_epoch(1, steps=3)] == [2, 3, 4]


def test_process_producer_seeds_are_reproducible():
    def run(seed):
        with Prefetcher(GeneratorSource(random_generator()), workers=1, use_multiprocessing=True,
                        seed=seed) as prefetcher:
            return np.stack([b.copy() for b in prefetcher.iter_epoch(0, steps=3)])

    np.testing.assert_array_equal(run(4), run(4))
    assert not np.allclose(run(4), run(5))


def test_generator_source_rejects_non_iterables():
    with pytest.raises(TypeError, match="Received: int"):
        GeneratorSource(3)


def test_threads_are_named_after_the_prefetcher():
    with Prefetcher(GeneratorSource(counting_generator()), workers=1, name="val") as prefetcher:
        next(iter(prefetcher.iter_epoch(0, steps=1)))
        names = {t.name for t in threading.enumerate()}
    assert "fitgen-val-worker-0" in names
