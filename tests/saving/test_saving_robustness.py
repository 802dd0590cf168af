"""Atomic saves, bad files, safe mode for Lambda bytecode, and exact resume of training in a fresh process."""
import functools
import os
import pickle
import signal
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest

from fitgen.engine.input_layer import Input
from fitgen.engine.model import Model
from fitgen.engine.sequential import Sequential
from fitgen.layers import core
from fitgen.models import load_model
from fitgen.saving import atomic_write, hdf5_format
from fitgen.saving.serialization import layer_classes

L = layer_classes()
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
X = np.random.default_rng(0).standard_normal((8, 4)).astype("float32")
Y = np.random.default_rng(1).standard_normal((8, 2)).astype("float32")


def _model():
    model = Sequential([L["Dense"](6, input_shape=(4,), activation="relu"), L["BatchNormalization"](),
                        L["Dense"](2)])
    model.compile("adam", "mse", metrics=["mae"])
    return model


def _saved(tmp_path, name="m.h5"):
    model = _model()
    model.fit(X, Y, epochs=1, batch_size=4, verbose=0, shuffle=False)
    path = tmp_path / name
    model.save(path)
    return model, path


# ---------------------------------------------------------------------------------------------- atomicity
def test_atomic_write_replaces_on_success_and_keeps_old_file_on_error(tmp_path):
    path = tmp_path / "f.txt"
    path.write_text("old")
    with atomic_write(path) as tmp:
        assert os.path.dirname(tmp) == str(tmp_path) and not os.path.exists(tmp)
        with open(tmp, "w") as f:
            f.write("new")
    assert path.read_text() == "new"
    with pytest.raises(RuntimeError, match="boom"), atomic_write(path) as tmp:
        with open(tmp, "w") as f:
            f.write("half")
        raise RuntimeError("boom")
    assert path.read_text() == "new"
    assert os.listdir(tmp_path) == ["f.txt"]


def test_save_failing_midway_leaves_previous_file_loadable(tmp_path, monkeypatch):
    model, path = _saved(tmp_path)
    before = path.read_bytes()
    original = hdf5_format._write_arrays
    calls = []

    def failing(group, names, values):
        calls.append(names)
        if len(calls) == 2:
            raise OSError("disk full (simulated)")
        return original(group, names, values)

    monkeypatch.setattr(hdf5_format, "_write_arrays", failing)
    model.fit(X, Y, epochs=1, verbose=0)
    with pytest.raises(OSError, match="disk full"):
        model.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["m.h5"]
    load_model(path).predict(X, verbose=0)


def test_killed_save_leaves_previous_file_loadable(tmp_path):
    _, path = _saved(tmp_path)
    expected = load_model(path).predict(X, verbose=0)
    script = textwrap.dedent(f"""
        import sys, time, h5py
        sys.path.insert(0, {ROOT!r})
        from fitgen.models import load_model
        model = load_model({str(path)!r})
        original = h5py.Group.create_dataset
        def slow(self, *args, **kwargs):
            out = original(self, *args, **kwargs)
            self.file.flush()
            print("writing", flush=True)
            time.sleep(30)
            return out
        h5py.Group.create_dataset = slow
        model.save({str(path)!r})
    """)
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert child.stdout.readline().strip() == b"writing"
    finally:
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=30)
    np.testing.assert_array_equal(load_model(path).predict(X, verbose=0), expected)


def test_overwrite_false_asks_first(tmp_path, monkeypatch):
    model, path = _saved(tmp_path)
    before = path.read_bytes()
    monkeypatch.setattr("builtins.input", lambda prompt="": "n")
    model.fit(X, Y, epochs=1, verbose=0)
    model.save(path, overwrite=False)
    assert path.read_bytes() == before
    monkeypatch.setattr("builtins.input", lambda prompt="": "y")
    model.save(path, overwrite=False)
    assert path.read_bytes() != before


# ---------------------------------------------------------------------------------------------- bad files
def test_missing_directory_zip_and_non_hdf5_files(tmp_path):
    with pytest.raises(OSError, match="No file or directory found at .*nope.h5"):
        load_model(tmp_path / "nope.h5")
    with pytest.raises(ValueError, match="is a directory"):
        load_model(tmp_path)
    (tmp_path / "m.keras").write_bytes(b"PK\x03\x04rest of a zip")
    with pytest.raises(ValueError, match=r"m\.keras is a zip archive"):
        load_model(tmp_path / "m.keras")
    (tmp_path / "text.h5").write_text("hello, not hdf5")
    with pytest.raises(ValueError, match=r"text\.h5 is not an HDF5 file"):
        load_model(tmp_path / "text.h5")
    model = _model()
    with pytest.raises(ValueError, match=r"text\.h5 is not an HDF5 file"):
        model.load_weights(tmp_path / "text.h5")


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9])
def test_truncated_file(tmp_path, fraction):
    _, path = _saved(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * fraction)])
    with pytest.raises(ValueError, match=str(path)):
        load_model(path)


def test_corrupt_header(tmp_path):
    _, path = _saved(tmp_path)
    data = bytearray(path.read_bytes())
    data[8:400] = os.urandom(392)
    path.write_bytes(bytes(data))
    with pytest.raises((ValueError, OSError), match=str(path)):
        load_model(path)


def test_missing_or_damaged_model_config_and_weights_file_given_to_load_model(tmp_path):
    model, path = _saved(tmp_path)
    model.save_weights(tmp_path / "w.h5")
    with pytest.raises(ValueError, match=r"No model config found in the file at .*w\.h5"):
        load_model(tmp_path / "w.h5")
    with h5py.File(path, "r+") as f:
        f.attrs["model_config"] = b"{broken json"
    with pytest.raises(ValueError, match=r"m\.h5' has a damaged `model_config`"):
        load_model(path)
    with h5py.File(path, "r+") as f:
        del f.attrs["model_config"]
    with pytest.raises(ValueError, match="No model config found"):
        load_model(path)


def test_weights_that_do_not_fit_the_architecture(tmp_path):
    _, path = _saved(tmp_path)
    with h5py.File(path, "r+") as f:
        group = f["model_weights"]["dense"]
        del group["dense/kernel:0"]
        group.create_dataset("dense/kernel:0", data=np.zeros((4, 7), "float32"))
    with pytest.raises(ValueError, match=r"'dense'.*m\.h5.*\(4, 6\).*\(4, 7\)"):
        load_model(path)
    with h5py.File(path, "r+") as f:
        del f["model_weights"]["dense"]["dense/kernel:0"]
    with pytest.raises(ValueError, match="incomplete.*dense/kernel:0"):
        load_model(path)


def test_loading_never_unpickles(tmp_path, monkeypatch):
    _, path = _saved(tmp_path)

    def refuse(*args, **kwargs):
        raise AssertionError("pickle used while loading")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    load_model(path).predict(X, verbose=0)
    load_model(os.path.join(ROOT, "tests", "fixtures", "keras2", "two_io.h5"))


# ---------------------------------------------------------------------------------------------- safe mode
def double(x):
    return x * 2


def test_lambda_bytecode_needs_safe_mode_off(tmp_path):
    inputs = Input((4,))
    model = Model(inputs, L["Lambda"](lambda t: t * 3 + 1)(L["Lambda"](double)(inputs)))
    expected = model.predict(X, verbose=0)
    model.save(tmp_path / "lam.h5")
    with pytest.raises(ValueError, match="safe_mode") as info:
        load_model(tmp_path / "lam.h5")
    assert "code" in str(info.value).lower()
    assert core.LAMBDA_SAFE_MODE is True
    loaded = load_model(tmp_path / "lam.h5", safe_mode=False)
    assert core.LAMBDA_SAFE_MODE is True
    np.testing.assert_allclose(loaded.predict(X, verbose=0), expected, rtol=1e-6)


def test_lambda_with_a_named_function_loads_in_safe_mode(tmp_path):
    inputs = Input((4,))
    model = Model(inputs, L["Lambda"](double)(inputs))
    model.save(tmp_path / "named.h5")
    np.testing.assert_allclose(load_model(tmp_path / "named.h5").predict(X, verbose=0), X * 2, rtol=1e-6)


def _logged(fn):
    @functools.wraps(fn)
    def wrapper(x):
        return fn(x)
    return wrapper


@_logged
def tripled(x):
    return x * 3


@pytest.mark.parametrize("function, expected", [(tripled, X * 3), (None, X / 127.5 - 1)],
                         ids=["decorated", "application_preprocess_input"])
def test_lambda_with_a_function_its_module_holds_by_name_loads_in_safe_mode(tmp_path, function, expected):
    # A decorated function (a closure under its own name) and an application's preprocess_input (made by a
    # factory) are found again by module and name, as pickle finds them: no bytecode, safe mode loads them.
    from fitgen.applications import mobilenet
    function = function or mobilenet.preprocess_input
    inputs = Input((4,))
    model = Model(inputs, L["Lambda"](function)(inputs))
    model.save(tmp_path / "named.h5")
    with h5py.File(tmp_path / "named.h5", "r") as handle:
        assert '"function_type": "function"' in handle.attrs["model_config"]
    np.testing.assert_allclose(load_model(tmp_path / "named.h5").predict(X, verbose=0), expected, rtol=1e-5,
                               atol=1e-6)


# ---------------------------------------------------------------------------------------------- exact resume
RESUME_SCRIPT = """
import sys
import numpy as np
sys.path.insert(0, {root!r})
from fitgen.models import load_model
data = np.load({data!r})
model = load_model({model!r})
model.fit(data["x"], data["y"], epochs=2, batch_size=3, shuffle=False, verbose=0)
np.savez({out!r}, *model.get_weights(), *model.optimizer.get_weights())
"""


def test_training_resumes_bit_for_bit_in_a_fresh_process(tmp_path):
    from fitgen import backend
    backend.set_random_seed(5)
    model = _model()
    model.fit(X, Y, epochs=2, batch_size=3, shuffle=False, verbose=0)
    model.save(tmp_path / "m.h5")
    np.savez(tmp_path / "data.npz", x=X, y=Y)
    script = RESUME_SCRIPT.format(root=ROOT, data=str(tmp_path / "data.npz"), model=str(tmp_path / "m.h5"),
                                  out=str(tmp_path / "resumed.npz"))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    model.fit(X, Y, epochs=2, batch_size=3, shuffle=False, verbose=0)
    expected = model.get_weights() + model.optimizer.get_weights()
    resumed = np.load(tmp_path / "resumed.npz")
    assert len(resumed.files) == len(expected)
    for i, value in enumerate(expected):
        np.testing.assert_array_equal(resumed[f"arr_{i}"], value)
