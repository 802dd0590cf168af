"""imagenet_utils against tf-keras 2.21 (tests/fixtures/applications/imagenet_utils.npz): preprocess_input in
every mode, layout and dtype, on arrays, tensors and symbolic inputs, each application module's preprocess_input,
decode_predictions (class index fetched from a local server, or Keras's cached copy), and the input checks."""
import hashlib
import json
import os

import numpy as np
import pytest
import torch
from app_cases import FIXTURES, generator
from helpers.local_server import LocalServer

import fitgen
from fitgen.applications import imagenet_utils

REF = np.load(os.path.join(FIXTURES, "imagenet_utils.npz"))
KEYS = ["f32_4d", "f64_3d", "u8_4d", "f32_cf_4d", "f32_cf_3d"]


def _data_format(key):
    return "channels_first" if "_cf_" in key else "channels_last"


@pytest.mark.parametrize("mode", ["caffe", "tf", "torch"])
@pytest.mark.parametrize("key", KEYS)
def test_preprocess_numpy_matches_tfkeras(mode, key):
    x = REF[f"x_{key}"].copy()
    out = imagenet_utils.preprocess_input(x, data_format=_data_format(key), mode=mode)
    expected = REF[f"array_{mode}_{key}"]
    assert out.dtype == expected.dtype
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-5)
    # Keras writes a float array's result over the input.
    assert np.shares_memory(out, x) == (x.dtype != np.uint8)


@pytest.mark.parametrize("mode", ["caffe", "tf", "torch"])
@pytest.mark.parametrize("key", ["f32_4d", "f64_3d", "f32_cf_4d"])
def test_preprocess_tensor_matches_tfkeras(mode, key):
    x = torch.from_numpy(REF[f"x_{key}"].copy())
    out = imagenet_utils.preprocess_input(x, data_format=_data_format(key), mode=mode)
    expected = REF[f"tensor_{mode}_{key}"]
    assert isinstance(out, torch.Tensor) and str(out.dtype).endswith(str(expected.dtype))
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6, atol=1e-5)
    np.testing.assert_array_equal(x.numpy(), REF[f"x_{key}"])  # tensors are not modified


def test_preprocess_symbolic_input_becomes_a_layer():
    inputs = fitgen.Input((5, 6, 3))
    model = fitgen.Model(inputs, fitgen.applications.resnet50.preprocess_input(inputs))
    np.testing.assert_allclose(model.predict(REF["x_f32_4d"], verbose=0), REF["array_caffe_f32_4d"], rtol=1e-6,
                               atol=1e-5)


@pytest.mark.parametrize("module_name", generator().PREPROCESS_MODULES)
def test_module_preprocess_input_matches_tfkeras(module_name):
    module = getattr(fitgen.applications, module_name)
    out = module.preprocess_input(REF["x_f32_4d"].copy())
    np.testing.assert_allclose(out, REF[f"module_{module_name}"], rtol=1e-6, atol=1e-5)
    assert module.decode_predictions.__doc__ and module.preprocess_input.__doc__


def test_preprocess_input_rejects_bad_arguments():
    with pytest.raises(ValueError, match="mode"):
        imagenet_utils.preprocess_input(np.zeros((1, 2, 2, 3)), mode="keras")
    with pytest.raises(ValueError, match="data_format"):
        imagenet_utils.preprocess_input(np.zeros((1, 2, 2, 3)), data_format="NHWC")


@pytest.fixture
def class_index(tmp_path, monkeypatch):
    """A local server publishing a class index file, with the module pointed at it and isolated caches."""
    data = json.dumps(generator().fake_class_index()).encode()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FITGEN_HOME", str(tmp_path / "fitgen_home"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.setattr(imagenet_utils, "CLASS_INDEX", None)
    monkeypatch.setattr(imagenet_utils, "CLASS_INDEX_HASH", hashlib.md5(data).hexdigest())
    with LocalServer() as server:
        url, _ = server.serve("imagenet_class_index.json", data)
        monkeypatch.setattr(imagenet_utils, "CLASS_INDEX_PATH", url)
        yield server, data, tmp_path


def test_decode_predictions_matches_tfkeras_and_caches_the_index(class_index):
    server, _, tmp_path = class_index
    decoded = fitgen.applications.vgg16.decode_predictions(REF["preds"], top=4)
    expected = json.loads(str(REF["decoded"]))
    assert [[(a, b) for a, b, _ in row] for row in decoded] == [[(a, b) for a, b, _ in row] for row in expected]
    np.testing.assert_allclose([[s for *_, s in row] for row in decoded], [[s for *_, s in row] for row in expected])
    assert os.path.isfile(tmp_path / "fitgen_home" / "models" / "imagenet_class_index.json")
    decoded_again = imagenet_utils.decode_predictions(torch.from_numpy(REF["preds"]), top=4)
    assert [[a for a, *_ in row] for row in decoded_again] == [[a for a, *_ in row] for row in decoded]
    assert server.requests == ["/imagenet_class_index.json"]  # once


def test_decode_predictions_uses_keras_cached_index_without_download(class_index):
    server, data, tmp_path = class_index
    keras_models = tmp_path / "keras_home" / "models"
    keras_models.mkdir(parents=True)
    (keras_models / "imagenet_class_index.json").write_bytes(data)
    assert imagenet_utils.decode_predictions(REF["preds"][:1], top=1)[0][0][:2] == tuple(
        json.loads(str(REF["decoded"]))[0][0][:2])
    assert server.requests == []


def test_decode_predictions_checks_shape():
    with pytest.raises(ValueError, match=r"\(samples, 1000\).*\(2, 10\)"):
        imagenet_utils.decode_predictions(np.zeros((2, 10)))


def test_obtain_input_shape_rules():
    obtain = imagenet_utils.obtain_input_shape
    assert obtain(None, 224, 32, "channels_last", True, "imagenet") == (224, 224, 3)
    assert obtain(None, 224, 32, "channels_last", False, "imagenet") == (None, None, 3)
    assert obtain((100, 120, 3), 224, 32, "channels_last", False, None) == (100, 120, 3)
    assert obtain((3, 64, 64), 224, 32, "channels_first", False, None) == (3, 64, 64)
    with pytest.raises(ValueError, match=r"should be \(224, 224, 3\)"):
        obtain((200, 200, 3), 224, 32, "channels_last", True, "imagenet")
    with pytest.raises(ValueError, match="at least 32x32"):
        obtain((31, 64, 3), 224, 32, "channels_last", False, None)
    with pytest.raises(ValueError, match="3 channels"):
        obtain((64, 64, 1), 224, 32, "channels_last", False, "imagenet")
    with pytest.raises(ValueError, match="three integers"):
        obtain((64, 64), 224, 32, "channels_last", False, None)
    with pytest.raises(ValueError, match="static"):
        obtain((None, None, 3), 224, 32, "channels_last", True, None)
    with pytest.warns(UserWarning, match="1 or 3 input channels"):
        assert obtain((64, 64, 5), 224, 32, "channels_last", False, None) == (64, 64, 5)


def test_correct_pad():
    assert imagenet_utils.correct_pad(fitgen.Input((224, 224, 3)), 3) == ((0, 1), (0, 1))
    assert imagenet_utils.correct_pad(fitgen.Input((225, 224, 3)), (5, 5)) == ((2, 2), (1, 2))
    assert imagenet_utils.correct_pad(fitgen.Input((None, None, 3)), 3) == ((0, 1), (0, 1))
