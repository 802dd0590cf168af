"""Shared-memory slots: layout round trip, growth, transport errors, cleanup."""
import os

import numpy as np
import pytest
import torch

from fitgen.data.pipeline import shm


def _pool(limit=2):
    return shm.SlotPool(f"{shm.PREFIX}{os.getpid()}_test_", limit)


def test_round_trip_keeps_structure_dtypes_and_values():
    pool, writer = _pool(), shm.WorkerSlots()
    batch = ({"a": np.arange(6, dtype=np.int16).reshape(2, 3), "b": torch.ones(2, 2)},
             [np.array(["x", "yz"]), 3.5, "tag", None, np.float32(2)],
             np.asfortranarray(np.arange(12.0).reshape(3, 4))[:, ::2])
    try:
        slot = pool.acquire()
        meta = writer.write(slot.ticket(pool.prefix), batch, index=0)
        out = pool.view(slot, meta)
        np.testing.assert_array_equal(out[0]["a"], batch[0]["a"])
        assert out[0]["b"].dtype == np.float32 and out[0]["b"].shape == (2, 2)
        assert out[1][0].tolist() == ["x", "yz"] and out[1][1:4] == [3.5, "tag", None]
        np.testing.assert_array_equal(out[2], batch[2])
        assert isinstance(out[0], dict) and isinstance(out[1], list)
        for array in (out[0]["a"], out[2]):
            assert array.__array_interface__["data"][0] % shm.ALIGN == 0
    finally:
        writer.close()
        pool.close()


def test_slot_grows_and_old_segment_is_unlinked():
    pool, writer = _pool(1), shm.WorkerSlots()
    try:
        slot = pool.acquire()
        small = pool.view(slot, writer.write(slot.ticket(pool.prefix), np.zeros(10), 0))
        first_name = slot.name
        pool.release(slot)
        assert pool.acquire() is slot and pool.acquire() is None  # bounded by `limit`
        big = pool.view(slot, writer.write(slot.ticket(pool.prefix), np.ones(100000), 1))
        assert slot.name != first_name and slot.capacity >= 800000
        assert not os.path.exists(f"/dev/shm/{first_name}")
        assert small.sum() == 0 and big.sum() == 100000  # the old view stays readable
    finally:
        writer.close()
        pool.close()
    assert not [n for n in os.listdir("/dev/shm") if n.startswith(pool.prefix)]


def test_untransportable_values_name_the_batch():
    with pytest.raises(TypeError, match="Batch 4 holds a value of type set"):
        shm.plan_layout(({1, 2}, np.zeros(1)), 4)
    with pytest.raises(TypeError, match="Batch 2 holds a NumPy array of dtype object"):
        shm.plan_layout(np.array([None, 1]), 2)


def test_stale_segment_is_replaced_and_swept():
    name = f"{shm.PREFIX}{os.getpid()}_stale_0_1"
    mapping = shm.create_segment(name, 10)
    again = shm.create_segment(name, 20)  # a dead worker's leftover under the same name
    assert len(again) == 20
    shm.close_quietly(mapping)
    shm.close_quietly(again)
    shm.sweep_segments(f"{shm.PREFIX}{os.getpid()}_stale_")
    assert not os.path.exists(f"/dev/shm/{name}")
