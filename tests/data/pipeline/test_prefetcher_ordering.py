"""Prefetcher with indexed sources: order, exactly-once, shuffle, epochs, on_epoch_end, memory, zero-copy."""
import os

import numpy as np
import pytest

from fitgen.data.pipeline import Prefetcher
from fitgen.data.pipeline import SequenceSource
from tests.helpers.pipeline_sources import CountingSequence
from tests.helpers.pipeline_sources import EpochSequence
from tests.helpers.pipeline_sources import GrowingSequence
from tests.helpers.pipeline_sources import RandomSequence

MODES = {
    "inline": dict(workers=0),
    "threads": dict(workers=2),
    "processes": dict(workers=2, use_multiprocessing=True),
}


def _indices(prefetcher, epoch, steps=None):
    return [int(y[0]) for _, y in prefetcher.iter_epoch(epoch, steps)]


@pytest.mark.parametrize("mode", MODES)
def test_in_order_exactly_once(mode):
    sequence = CountingSequence(length=13)
    with Prefetcher(SequenceSource(sequence), max_queue_size=3, **MODES[mode]) as prefetcher:
        for epoch in range(2):
            batches = [(x.copy(), y.copy()) for x, y in prefetcher.iter_epoch(epoch)]
            assert [int(y[0]) for _, y in batches] == list(range(13))
            for x, y in batches:
                np.testing.assert_array_equal(x, np.full((4, 3), y[0], np.float32))
            assert prefetcher.epoch_stats()["batches"] == 13
    if mode != "processes":
        assert sorted(sequence.calls) == sorted(list(range(13)) * 2)  # no extra __getitem__ calls


@pytest.mark.parametrize("mode", MODES)
def test_shuffle_is_a_seeded_permutation_per_epoch(mode):
    with Prefetcher(CountingSequence(length=20), shuffle=True, seed=7, **MODES[mode]) as prefetcher:
        first, second = _indices(prefetcher, 0), _indices(prefetcher, 1)
    assert sorted(first) == sorted(second) == list(range(20))
    assert first != second and first != list(range(20))
    with Prefetcher(CountingSequence(length=20), shuffle=True, seed=7, workers=0) as again:
        assert _indices(again, 0) == first and _indices(again, 1) == second


def test_shuffle_seed_defaults_to_numpy_global_rng():
    np.random.seed(5)
    first = Prefetcher(CountingSequence(), shuffle=True, workers=0)
    np.random.seed(5)
    second = Prefetcher(CountingSequence(), shuffle=True, workers=0)
    with first, second:
        assert _indices(first, 0) == _indices(second, 0)


@pytest.mark.parametrize("mode", MODES)
def test_steps_shorter_and_longer_than_len(mode):
    with Prefetcher(CountingSequence(length=5), **MODES[mode]) as prefetcher:
        assert _indices(prefetcher, 0, steps=3) == [0, 1, 2]
        assert _indices(prefetcher, 1, steps=7) == [0, 1, 2, 3, 4, 0, 1]  # the next pass continues
        assert _indices(prefetcher, 2, steps=0) == []


@pytest.mark.parametrize("mode", MODES)
def test_on_epoch_end_once_per_epoch_in_main_process_and_seen_by_workers(mode):
    sequence = EpochSequence(length=4)
    with Prefetcher(sequence, max_queue_size=2, **MODES[mode]) as prefetcher:
        seen = [[tuple(int(v) for v in batch) for batch in prefetcher.iter_epoch(epoch)] for epoch in range(3)]
    assert sequence.end_pids == [os.getpid()] * 3
    for epoch, batches in enumerate(seen):
        assert [b[0] for b in batches] == [0, 1, 2, 3]
        assert {b[1] for b in batches} == {epoch}  # every batch of epoch e saw e on_epoch_end calls
    worker_pids = {b[2] for batches in seen for b in batches}
    if mode == "processes":
        assert os.getpid() not in worker_pids
    else:
        assert worker_pids == {os.getpid()}


def test_abandoned_epoch_still_gets_on_epoch_end_before_the_next():
    sequence = EpochSequence(length=6)
    with Prefetcher(sequence, workers=2, use_multiprocessing=True, max_queue_size=4) as prefetcher:
        iterator = prefetcher.iter_epoch(0)
        next(iterator)
        next(iterator)
        batches = [tuple(int(v) for v in b) for b in prefetcher.iter_epoch(1)]
    assert [b[0] for b in batches] == list(range(6)) and {b[1] for b in batches} == {1}
    assert len(sequence.end_pids) == 2


def test_len_is_reread_every_epoch():
    class Shrinking(CountingSequence):
        def on_epoch_end(self):
            self.length -= 2

    with Prefetcher(Shrinking(length=6), workers=2) as prefetcher:
        assert [len(_indices(prefetcher, epoch)) for epoch in range(3)] == [6, 4, 2]


def test_memory_bound_slots_and_growth():
    with Prefetcher(GrowingSequence(length=12), workers=2, use_multiprocessing=True, max_queue_size=3) as prefetcher:
        for epoch in range(2):
            for index, batch in enumerate(prefetcher.iter_epoch(epoch)):
                assert batch["x"].shape == (index + 1, 1000) and batch["n"] == index and batch["tag"] == f"b{index}"
                assert float(batch["x"][-1, -1]) == index
            stats = prefetcher.epoch_stats()
            assert 0 < stats["slots"] <= 3 + 2
            prefix = prefetcher._slots.prefix
            assert len([n for n in os.listdir("/dev/shm") if n.startswith(prefix)]) <= 3 + 2
    assert not [n for n in os.listdir("/dev/shm") if n.startswith(prefix)]


def _mapped_file(address):
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split()
            low, high = (int(v, 16) for v in fields[0].split("-"))
            if low <= address < high:
                return fields[5] if len(fields) > 5 else ""
    return None


def test_process_batches_are_zero_copy_views_of_shared_memory():
    with Prefetcher(CountingSequence(length=4, shape=(64, 64)), workers=2, use_multiprocessing=True) as prefetcher:
        for x, y in prefetcher.iter_epoch(0):
            address = x.__array_interface__["data"][0]
            assert _mapped_file(address).startswith("/dev/shm/fitgen_")
            assert x.base is not None and x.flags.writeable


def test_release_on_next_reuses_slots():
    with Prefetcher(CountingSequence(length=30), workers=1, use_multiprocessing=True, max_queue_size=1) as prefetcher:
        addresses = {x.__array_interface__["data"][0] for x, _ in prefetcher.iter_epoch(0)}
        assert prefetcher.epoch_stats()["slots"] <= 2
    assert len(addresses) <= 2


def test_process_workers_reseed_per_batch_reproducibly():
    def run(seed):
        with Prefetcher(RandomSequence(), workers=2, use_multiprocessing=True, seed=seed) as prefetcher:
            return [np.stack([b.copy() for b in prefetcher.iter_epoch(epoch)]) for epoch in range(2)]

    first, again, other = run(11), run(11), run(12)
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    every = np.concatenate(first)
    assert len({tuple(row) for row in every.round(12)}) == len(every)  # no two batches share a stream
    assert len(np.unique(every[:, 0])) == len(every)
    assert not np.allclose(first[0], other[0])


@pytest.mark.parametrize("mode", ["threads", "processes"])
def test_get_worker_info_inside_workers(mode):
    from fitgen.data.pipeline import get_worker_info

    assert get_worker_info() is None
    with Prefetcher(_InfoSequence(), max_queue_size=2, **MODES[mode]) as prefetcher:
        rows = [tuple(int(v) for v in b) for b in prefetcher.iter_epoch(3)]
    assert {r[1] for r in rows} == {2} and {r[2] for r in rows} == {3}
    assert {r[0] for r in rows} <= {0, 1}


class _InfoSequence(CountingSequence):
    def __getitem__(self, index):
        from fitgen.data.pipeline import get_worker_info
        info = get_worker_info()
        return np.array([info.id, info.num_workers, info.epoch])


def test_argument_errors():
    with pytest.raises(ValueError, match="workers"):
        Prefetcher(CountingSequence(), workers=-1)
    with pytest.raises(ValueError, match="timeout"):
        Prefetcher(CountingSequence(), timeout=0)
    with pytest.raises(TypeError, match="Received: int"):
        Prefetcher(3)
    prefetcher = Prefetcher(CountingSequence(), workers=0)
    prefetcher.close()
    prefetcher.close()
    with pytest.raises(RuntimeError, match="closed"):
        prefetcher.start()
