"""keras.json and `set_image_data_format`: the Keras 2 settings that decide the layers' default data format.

The file is read once, when fitgen.backend is imported, from `$KERAS_HOME/keras.json` or `~/.keras/keras.json`:
those checks run in a fresh interpreter with a temporary home.
"""
import json
import os
import subprocess
import sys
import warnings

import pytest

from fitgen import backend
from fitgen.backend import common
from fitgen.layers import Conv2D, MaxPooling2D

PROBE = ("from fitgen import backend as K; from fitgen.layers import Conv2D; import json; "
         "print(json.dumps([K.image_data_format(), K.floatx(), K.epsilon(), Conv2D(2, 3).data_format]))")


def _probe(env_update):
    env = {k: v for k, v in os.environ.items() if k != "KERAS_HOME"}
    env.update(env_update)
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_keras_json_sets_the_defaults_at_import(tmp_path):
    (tmp_path / "keras.json").write_text(json.dumps({"floatx": "float64", "epsilon": 1e-5, "backend": "theano",
                                                     "image_data_format": "channels_first"}))
    assert _probe({"KERAS_HOME": str(tmp_path)}) == ["channels_first", "float64", 1e-5, "channels_first"]


def test_home_keras_json_is_read_without_keras_home(tmp_path):
    (tmp_path / ".keras").mkdir()
    (tmp_path / ".keras" / "keras.json").write_text(json.dumps({"image_data_format": "channels_first"}))
    assert _probe({"HOME": str(tmp_path)}) == ["channels_first", "float32", 1e-7, "channels_first"]


@pytest.fixture
def restore_config():
    saved = (common.floatx(), common.epsilon(), common.image_data_format())
    yield
    backend.set_floatx(saved[0])
    backend.set_epsilon(saved[1])
    backend.set_image_data_format(saved[2])


def test_unreadable_or_invalid_files_are_tolerated(tmp_path, restore_config):
    path = tmp_path / "keras.json"
    for text in ("{not json", "[1, 2]", ""):
        path.write_text(text)
        common._load_keras_config(str(path))
        assert (backend.floatx(), backend.image_data_format()) == ("float32", "channels_last")
    path.write_text(json.dumps({"image_data_format": "channels_middle", "epsilon": "small", "floatx": "float64"}))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        common._load_keras_config(str(path))
    assert (backend.floatx(), backend.image_data_format(), backend.epsilon()) == ("float64", "channels_last", 1e-7)
    assert sorted(str(w.message).split("=")[0] for w in caught) == ["Ignoring epsilon", "Ignoring image_data_format"]
    # A missing file changes nothing and is not created (Keras would write a default one; fitgen leaves the
    # user's Keras settings alone).
    common._load_keras_config(str(tmp_path / "missing" / "keras.json"))
    assert not (tmp_path / "missing").exists()


def test_set_image_data_format_sets_new_layers_defaults(restore_config):
    backend.set_image_data_format("channels_first")
    assert backend.image_data_format() == "channels_first"
    assert Conv2D(2, 3).data_format == MaxPooling2D().data_format == "channels_first"
    assert Conv2D(2, 3, data_format="channels_last").data_format == "channels_last"
    backend.set_image_data_format("channels_last")
    assert Conv2D(2, 3).data_format == "channels_last"
    with pytest.raises(ValueError, match="data_format"):
        backend.set_image_data_format("NCHW")
    assert backend.normalize_data_format(None) == "channels_last"
    assert common.keras_config_path().endswith(os.path.join("", "keras.json"))
