"""Keras 2 .h5 files of channels_first, 3-D and locally-connected models: fitgen reads its own files back with
the same configs and predictions, and tf-keras 2.x reads them with the same weights and predictions.

The tf-keras check runs only when FITGEN_TFKERAS_PYTHON names a Python with tf-keras (see
test_saving_tfkeras_reads_fitgen.py); TensorFlow's CPU kernels run these channels_first layers forward.
"""
import json
import os
import subprocess

import numpy as np
import pytest

from fitgen import backend
from fitgen.engine.input_layer import Input
from fitgen.engine.model import Model
from fitgen.layers import (AveragePooling3D, BatchNormalization, Concatenate, Conv1D, Conv2D, Conv2DTranspose, Conv3D,
                           Conv3DTranspose, Cropping3D, Dense, DepthwiseConv2D, Flatten, GlobalAveragePooling1D,
                           GlobalAveragePooling2D, GlobalMaxPooling3D, LocallyConnected1D, LocallyConnected2D,
                           MaxPooling1D, MaxPooling2D, MaxPooling3D, SeparableConv2D, SpatialDropout2D,
                           SpatialDropout3D, UpSampling3D, ZeroPadding3D)
from fitgen.models import load_model

PYTHON = os.environ.get("FITGEN_TFKERAS_PYTHON")
CF = {"data_format": "channels_first"}

READER = r"""
import json, os, sys
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np
import tf_keras
folder = sys.argv[1]
for name in json.load(open(os.path.join(folder, "cases.json"))):
    data = np.load(os.path.join(folder, name + ".npz"))
    model = tf_keras.models.load_model(os.path.join(folder, name + ".h5"))
    out = {"pred": model.predict(data["x"], verbose=0),
           "formats": np.array(json.dumps({l.name: getattr(l, "data_format", None) for l in model.layers}))}
    for i, w in enumerate(model.get_weights()):
        out["w%d" % i] = w
    np.savez(os.path.join(folder, name + "_tfkeras.npz"), **out)
"""


def _models():
    backend.clear_session()
    image = Input((3, 10, 9))
    a = Conv2D(4, 3, padding="same", activation="relu", **CF)(image)
    a = BatchNormalization(axis=1)(a)
    a = SpatialDropout2D(0.3, **CF)(a)
    a = MaxPooling2D(**CF)(a)
    a = Conv2DTranspose(3, 3, strides=2, padding="same", **CF)(a)
    a = SeparableConv2D(4, 3, depth_multiplier=2, **CF)(a)
    a = LocallyConnected2D(2, 3, strides=2, **CF)(a)
    a = Flatten(**CF)(a)
    b = GlobalAveragePooling2D(**CF)(DepthwiseConv2D(3, depth_multiplier=2, **CF)(image))
    images = Model(image, Dense(3, activation="softmax")(Concatenate()([a, b])))

    volume = Input((2, 6, 5, 4))
    v = ZeroPadding3D(((1, 0), (0, 1), (1, 1)), **CF)(volume)
    v = Conv3D(3, 2, activation="relu", **CF)(v)
    v = SpatialDropout3D(0.2, **CF)(v)
    v = MaxPooling3D(padding="same", **CF)(v)
    v = Conv3DTranspose(2, 3, strides=2, **CF)(v)
    v = Cropping3D(1, **CF)(v)
    v = UpSampling3D((1, 2, 1), **CF)(v)
    v = AveragePooling3D(2, data_format="channels_last")(v)
    volumes = Model(volume, Dense(2)(GlobalMaxPooling3D(**CF)(v)))

    sequence = Input((4, 12))
    s = Conv1D(5, 3, padding="causal", **CF)(sequence)
    s = MaxPooling1D(**CF)(s)
    s = LocallyConnected1D(3, 2, **CF)(s)
    sequences = Model(sequence, Dense(1)(GlobalAveragePooling1D(**CF)(s)))
    return {"images": images, "volumes": volumes, "sequences": sequences}


def _inputs(model, rng):
    return rng.standard_normal((4,) + tuple(model.inputs[0].shape[1:])).astype("float32")


def test_fitgen_reads_its_channels_first_files_back(tmp_path):
    rng = np.random.default_rng(0)
    for name, model in _models().items():
        x = _inputs(model, rng)
        model.compile("adam", "mse")
        expected = model.predict(x, verbose=0)
        model.save(tmp_path / f"{name}.h5")
        loaded = load_model(tmp_path / f"{name}.h5")
        assert [l.get_config() for l in loaded.layers] == [l.get_config() for l in model.layers]
        for a, b in zip(loaded.get_weights(), model.get_weights()):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, rtol=1e-6, atol=1e-6, err_msg=name)


@pytest.mark.skipif(not PYTHON, reason="set FITGEN_TFKERAS_PYTHON to a Python with tf-keras")
def test_tf_keras_reads_fitgen_channels_first_files(tmp_path):
    rng = np.random.default_rng(1)
    expected = {}
    for name, model in _models().items():
        x = _inputs(model, rng)
        model.compile("adam", "mse")
        model.save(tmp_path / f"{name}.h5")
        np.savez(tmp_path / f"{name}.npz", x=x)
        formats = {l.name: getattr(l, "data_format", None) for l in model.layers}
        expected[name] = (model.predict(x, verbose=0), model.get_weights(), formats)
    (tmp_path / "cases.json").write_text(json.dumps(list(expected)))
    (tmp_path / "reader.py").write_text(READER)
    done = subprocess.run([PYTHON, str(tmp_path / "reader.py"), str(tmp_path)], capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    for name, (pred, weights, formats) in expected.items():
        got = np.load(tmp_path / f"{name}_tfkeras.npz")
        got_formats = json.loads(str(got["formats"]))
        assert {k: v for k, v in got_formats.items() if v} == {k: v for k, v in formats.items() if v}, name
        for i, w in enumerate(weights):
            np.testing.assert_array_equal(got[f"w{i}"], w, err_msg=f"{name} weight {i}")
        np.testing.assert_allclose(got["pred"], pred, rtol=1e-5, atol=1e-5, err_msg=name)
