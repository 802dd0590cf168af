"""A disk that fills up during `model.save` or ModelCheckpoint: OSError (ENOSPC) naming the target, whatever
h5py reports (its own OSError, or a secondary "Slist already enabled?" error), the previous file intact and no
temporary file left behind."""
import errno
import os

import numpy as np
import pytest

from fitgen.callbacks import ModelCheckpoint
from fitgen.engine.sequential import Sequential
from fitgen.layers import Dense
from fitgen.models import load_model
from fitgen.saving import atomic, atomic_write, hdf5_format

X = np.random.default_rng(0).random((8, 4)).astype("float32")
Y = np.random.default_rng(1).random((8, 2)).astype("float32")


def trained(path):
    model = Sequential([Dense(3, input_shape=(4,)), Dense(2)])
    model.compile("adam", "mse")
    model.fit(X, Y, verbose=0)
    model.save(path)
    return model


def h5py_full_disk(group, names, values):
    """What h5py raises when the file system fills up midway (errno 28 inside its message)."""
    raise OSError("Can't synchronously write data (file write failed: errno = 28, error message = 'No space "
                  "left on device', total write size = 65536)")


def h5py_secondary_error(group, names, values):
    """A full disk that h5py reports only as the error of the cleanup that follows."""
    try:
        raise RuntimeError("Unable to flush file's cached information (file write failed: errno = 28, error "
                           "message = 'No space left on device')")
    except RuntimeError:
        raise RuntimeError("Slist already enabled?")


def space_error(group, names, values):
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("failure", [h5py_full_disk, h5py_secondary_error, space_error],
                         ids=["h5py-message", "secondary-error", "errno"])
def test_model_save_on_a_full_disk_raises_enospc_naming_the_file_and_keeps_the_old_one(tmp_path, monkeypatch,
                                                                                        failure):
    path = tmp_path / "model.h5"
    model = trained(path)
    before = path.read_bytes()
    model.fit(X, Y, verbose=0)
    monkeypatch.setattr(hdf5_format, "_write_arrays", failure)
    with pytest.raises(OSError) as info:
        model.save(path)
    monkeypatch.undo()
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(path)
    assert str(path) in str(info.value) and "room for a second copy" in str(info.value)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.h5"]
    load_model(path).predict(X)


def test_an_unexplained_error_on_a_nearly_full_disk_is_reported_as_enospc(tmp_path, monkeypatch):
    class Full:
        f_bavail, f_frsize = 3, 4096

    monkeypatch.setattr(atomic.os, "statvfs", lambda folder: Full())
    with pytest.raises(OSError, match="No space left on device while saving") as info:
        with atomic_write(tmp_path / "f.txt") as tmp:
            with open(tmp, "w") as f:
                f.write("x")
            raise RuntimeError("Slist already enabled?")
    assert isinstance(info.value.__cause__, RuntimeError)
    assert os.listdir(tmp_path) == []


def test_other_errors_are_left_alone(tmp_path):
    with pytest.raises(RuntimeError, match="boom"), atomic_write(tmp_path / "f.txt"):
        raise RuntimeError("boom")
    with pytest.raises(KeyboardInterrupt), atomic_write(tmp_path / "f.txt"):
        raise KeyboardInterrupt


def test_model_checkpoint_on_a_full_disk_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "best.h5"
    model = trained(path)
    before = path.read_bytes()
    monkeypatch.setattr(hdf5_format, "_write_arrays", space_error)
    with pytest.raises(OSError) as info:
        model.fit(X, Y, epochs=1, verbose=0, callbacks=[ModelCheckpoint(str(path))])
    monkeypatch.undo()
    assert info.value.errno == errno.ENOSPC and str(path) in str(info.value)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["best.h5"]
