"""Batches to the device: zero-copy tensors on CPU; pinned, asynchronous, one ahead on CUDA."""
import numpy as np
import pytest
import torch

from fitgen.data.pipeline import Prefetcher
from fitgen.data.pipeline.device import to_device
from tests.helpers.pipeline_sources import CountingSequence


def test_to_device_cpu_is_zero_copy_and_keeps_structure():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    batch = {"x": x, "pair": (np.array([1, 2]), 5), "names": np.array(["a", "b"])}
    out = to_device(batch, "cpu")
    assert isinstance(out["x"], torch.Tensor) and out["x"].data_ptr() == x.ctypes.data
    assert out["pair"][1] == 5 and isinstance(out["pair"][0], torch.Tensor)
    assert isinstance(out["names"], np.ndarray)


def test_read_only_arrays_are_copied_without_warning():
    x = np.ones(3)
    x.flags.writeable = False
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert to_device(x, "cpu").sum().item() == 3


@pytest.mark.parametrize("use_multiprocessing", [False, True])
def test_prefetcher_with_cpu_device_yields_tensors(use_multiprocessing):
    with Prefetcher(CountingSequence(length=5), workers=2, use_multiprocessing=use_multiprocessing,
                    device="cpu") as prefetcher:
        for epoch in range(2):
            labels = [int(y[0]) for x, y in prefetcher.iter_epoch(epoch)]
            assert labels == list(range(5))
        x, y = next(iter(prefetcher.iter_epoch(2)))
        assert isinstance(x, torch.Tensor) and x.device.type == "cpu"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("use_multiprocessing", [False, True])
def test_cuda_lookahead_delivers_every_batch_on_the_device(use_multiprocessing):
    with Prefetcher(CountingSequence(length=9, shape=(64, 64)), workers=2, use_multiprocessing=use_multiprocessing,
                    device="cuda", max_queue_size=3) as prefetcher:
        for epoch in range(2):
            seen = []
            for x, y in prefetcher.iter_epoch(epoch):
                assert x.is_cuda
                seen.append(int(y[0].item()))
                assert torch.all(x == seen[-1]).item()
            assert seen == list(range(9))
