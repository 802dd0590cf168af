"""torch Datasets batched by fitgen, DataLoaders passed through."""
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader
from torch.utils.data import Dataset
from torch.utils.data import TensorDataset

from fitgen.data.pipeline import Prefetcher
from fitgen.data.torch_data import DataLoaderSource
from fitgen.data.torch_data import DatasetSource
from fitgen.data.torch_data import collate


class Pairs(Dataset):
    def __init__(self, n=10):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return torch.full((3,), float(i)), np.int64(i), 1.0


class Dicts(Pairs):
    def __getitem__(self, i):
        return {"input_1": np.full((2,), i, np.float32), "input_2": torch.tensor([i])}, np.array([i % 2])


def test_collate_stacks_tuples_and_dicts():
    x, y, w = collate([Pairs()[i] for i in range(4)])
    assert x.shape == (4, 3) and x.dtype == np.float32 and y.tolist() == [0, 1, 2, 3] and w.shape == (4,)
    inputs, targets = collate([Dicts()[i] for i in range(3)])
    assert inputs["input_1"].shape == (3, 2) and inputs["input_2"].shape == (3, 1) and targets.shape == (3, 1)
    with pytest.raises(ValueError, match="same structure"):
        collate([(1, 2), (1, 2, 3)])
    with pytest.raises(ValueError, match="same keys"):
        collate([{"a": 1}, {"b": 1}])


@pytest.mark.parametrize("kwargs", [dict(workers=0), dict(workers=2), dict(workers=2, use_multiprocessing=True)])
def test_dataset_source_batches_every_sample_once(kwargs):
    source = DatasetSource(Pairs(10), batch_size=4)
    assert len(source) == 3
    with Prefetcher(source, **kwargs) as prefetcher:
        batches = [tuple(np.array(part) for part in batch) for batch in prefetcher.iter_epoch(0)]
    assert [len(b[1]) for b in batches] == [4, 4, 2]
    assert np.concatenate([b[1] for b in batches]).tolist() == list(range(10))


@pytest.mark.parametrize("use_multiprocessing", [False, True])
def test_dataset_source_shuffles_samples_per_epoch_reproducibly(use_multiprocessing):
    def run():
        source = DatasetSource(Pairs(12), batch_size=5, shuffle=True, seed=3)
        with Prefetcher(source, workers=2, use_multiprocessing=use_multiprocessing) as prefetcher:
            return [np.concatenate([np.array(y) for _, y, _ in prefetcher.iter_epoch(e)]).tolist() for e in range(2)]

    first, second = run()
    assert sorted(first) == sorted(second) == list(range(12)) and first != second
    assert run() == [first, second]


def test_dataset_source_validates():
    with pytest.raises(ValueError, match="batch_size"):
        DatasetSource(Pairs(), batch_size=0)
    with pytest.raises(IndexError, match="out of range"):
        DatasetSource(Pairs(4), batch_size=2).get_batch(2)


def test_dataloader_source_one_pass_per_epoch_as_numpy():
    loader = DataLoader(TensorDataset(torch.arange(10.0), torch.arange(10)), batch_size=4)
    source = DataLoaderSource(loader)
    assert source.num_batches == 3 and source.runs_own_workers
    with Prefetcher(source, workers=4) as prefetcher:  # the loader parallelises itself: run inline
        assert prefetcher.workers == 0
        for epoch in range(2):
            batches = list(prefetcher.iter_epoch(epoch, steps=source.num_batches))
            assert [type(x) for x, _ in batches] == [np.ndarray] * 3
            assert np.concatenate([y for _, y in batches]).tolist() == list(range(10))


def test_dataloader_source_can_leave_tensors():
    loader = DataLoader(TensorDataset(torch.arange(4.0)), batch_size=2)
    with Prefetcher(DataLoaderSource(loader, as_numpy=False), workers=0) as prefetcher:
        batches = list(prefetcher.iter_epoch(0, steps=2))
    assert all(isinstance(b[0], torch.Tensor) for b in batches)


def test_dataloader_with_workers_is_shut_down_by_close():
    loader = DataLoader(TensorDataset(torch.arange(8.0)), batch_size=2, num_workers=1)
    with Prefetcher(DataLoaderSource(loader), workers=0) as prefetcher:
        assert len(list(prefetcher.iter_epoch(0, steps=2))) == 2  # abandoned mid-pass
    # the conftest checks the DataLoader's worker process is gone
