"""`weights='imagenet'` with a local HTTP server in place of Keras's bucket: Keras's file names in the `models`
cache, a copy in `~/.keras/models` used without download, the hash check, the offline error; and the argument
checks every builder shares (weights, classes, classifier_activation, input_tensor, pooling)."""
import hashlib
import os
import subprocess

import numpy as np
import pytest
from helpers.local_server import LocalServer

import fitgen
from fitgen.applications import mobilenet, resnet

MOBILENET_FILE = "mobilenet_2_5_128_tf_no_top.h5"


def _mobilenet(weights, **kwargs):
    return fitgen.applications.MobileNet(alpha=0.25, include_top=False, weights=weights, input_shape=(128, 128, 3),
                                         **kwargs)


@pytest.fixture
def homes(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FITGEN_HOME", str(tmp_path / "fitgen_home"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    return tmp_path / "fitgen_home" / "models", tmp_path / "keras_home" / "models"


@pytest.fixture
def weights_file(tmp_path):
    """A MobileNet alpha 0.25 weights file (fitgen-written, Keras layout) and the weights in it."""
    source = _mobilenet(None)
    path = tmp_path / "source.h5"
    source.save_weights(path)
    return path.read_bytes(), source.get_weights()


def _assert_same_weights(model, weights):
    for got, expected in zip(model.get_weights(), weights):
        np.testing.assert_array_equal(got, expected)


def test_imagenet_weights_download_once_under_keras_file_name(homes, weights_file, monkeypatch):
    own_cache, _ = homes
    data, weights = weights_file
    with LocalServer() as server:
        server.serve(f"mobilenet/{MOBILENET_FILE}", data)
        monkeypatch.setattr(mobilenet, "BASE_WEIGHT_PATH", server.url + "/mobilenet/")
        _assert_same_weights(_mobilenet("imagenet"), weights)
        assert (own_cache / MOBILENET_FILE).read_bytes() == data
        _assert_same_weights(_mobilenet("imagenet"), weights)
        assert server.requests == [f"/mobilenet/{MOBILENET_FILE}"]


def test_imagenet_weights_from_keras_cache_need_no_download(homes, weights_file, monkeypatch):
    own_cache, keras_cache = homes
    data, weights = weights_file
    keras_cache.mkdir(parents=True)
    (keras_cache / MOBILENET_FILE).write_bytes(data)
    with LocalServer() as server:
        monkeypatch.setattr(mobilenet, "BASE_WEIGHT_PATH", server.url + "/mobilenet/")
        _assert_same_weights(_mobilenet("imagenet"), weights)
        assert server.requests == []
    assert not (own_cache / MOBILENET_FILE).exists()


def test_offline_error_names_file_url_and_where_to_put_it(homes, monkeypatch):
    with LocalServer() as server:  # serves nothing: every request is a 404
        monkeypatch.setattr(mobilenet, "BASE_WEIGHT_PATH", server.url + "/mobilenet/")
        with pytest.raises(OSError) as error:
            _mobilenet("imagenet")
    message = str(error.value)
    assert MOBILENET_FILE in message
    assert f"{server.url}/mobilenet/{MOBILENET_FILE}" in message
    assert str(homes[1]) in message
    assert "weights=" in message


def _tiny_resnet(weights, **kwargs):
    stack = lambda x: resnet.stack1(x, 4, 1, stride1=1, name="conv2")  # noqa: E731
    return resnet.ResNet(stack, False, True, "resnet_tiny", include_top=False, weights=weights,
                         input_shape=(40, 40, 3), **kwargs)


def test_hash_mismatch_keeps_nothing_and_good_hash_loads(homes, monkeypatch, tmp_path):
    own_cache, _ = homes
    source = _tiny_resnet(None)
    source.save_weights(tmp_path / "tiny.h5")
    data = (tmp_path / "tiny.h5").read_bytes()
    name = "resnet_tiny_weights_tf_dim_ordering_tf_kernels_notop.h5"
    with LocalServer() as server:
        server.serve(f"resnet/{name}", data[:-10] + b"0123456789")
        monkeypatch.setattr(resnet, "BASE_WEIGHTS_PATH", server.url + "/resnet/")
        monkeypatch.setitem(resnet.WEIGHTS_HASHES, "resnet_tiny", ("0" * 32, hashlib.md5(data).hexdigest()))
        with pytest.raises(ValueError, match="hash"):
            _tiny_resnet("imagenet")
        assert not own_cache.exists() or os.listdir(own_cache) == []
        server.serve(f"resnet/{name}", data)
        _assert_same_weights(_tiny_resnet("imagenet"), source.get_weights())
        assert (own_cache / name).is_file()


def test_builders_check_their_arguments(tmp_path):
    with pytest.raises(ValueError, match="`weights` argument.*no such file"):
        fitgen.applications.VGG16(weights=str(tmp_path / "missing.h5"))
    with pytest.raises(ValueError, match="classes` should be 1000"):
        fitgen.applications.ResNet50(weights="imagenet", classes=10)
    with pytest.raises(ValueError, match="classifier_activation"):
        fitgen.applications.MobileNet(alpha=0.25, weights=str(_saved(tmp_path)), classifier_activation="relu",
                                      input_shape=(64, 64, 3), classes=10)
    with pytest.raises(TypeError, match="input_tensor"):
        fitgen.applications.MobileNet(weights=None, input_tensor=np.zeros((1, 64, 64, 3)))
    with pytest.raises(ValueError, match="Unknown argument"):
        fitgen.applications.ResNet50(weights=None, color="red")
    with pytest.raises(ValueError, match="alpha"):
        fitgen.applications.MobileNet(weights="imagenet", alpha=0.3)


def _saved(tmp_path):
    path = tmp_path / "m.h5"
    fitgen.applications.MobileNet(alpha=0.25, weights=None, input_shape=(64, 64, 3), classes=10).save_weights(path)
    return path


def test_input_tensor_and_pooling():
    inputs = fitgen.Input((64, 64, 3), name="image")
    features = fitgen.layers.Rescaling(1 / 127.5, offset=-1)(inputs)
    model = fitgen.applications.MobileNet(alpha=0.25, weights=None, include_top=False, input_tensor=features,
                                          pooling="max")
    assert model.inputs == [inputs] and model.output_shape == (None, 256)
    assert model.layers[1].name == "rescaling"
    model = fitgen.applications.MobileNetV2(alpha=0.35, weights=None, include_top=False, pooling="avg")
    assert model.input_shape == (None, None, None, 3) and model.output_shape == (None, 1280)
    assert model.name == "mobilenetv2_0.35_None"  # as tf-keras names it without a fixed size


def test_custom_scale_layer_loads_from_a_saved_model(tmp_path):
    from fitgen.applications.inception_resnet_v2 import CustomScaleLayer
    from fitgen.saving.serialization import layer_classes
    assert layer_classes()["CustomScaleLayer"] is CustomScaleLayer
    a, b = fitgen.Input((4,)), fitgen.Input((4,))
    model = fitgen.Model([a, b], CustomScaleLayer(0.17)([a, b]))
    model.save(tmp_path / "scaled.h5")
    loaded = fitgen.models.load_model(tmp_path / "scaled.h5")
    x = [np.ones((2, 4), "float32"), np.full((2, 4), 2.0, "float32")]
    np.testing.assert_allclose(loaded.predict(x, verbose=0), 1.34, rtol=1e-6)
    assert loaded.layers[-1].get_config()["scale"] == 0.17
    python = os.environ.get("FITGEN_TFKERAS_PYTHON")
    if python:  # tf-keras finds its own CustomScaleLayer by the registered name fitgen writes
        reader = ("import sys, numpy as np, tf_keras; m = tf_keras.models.load_model(sys.argv[1]); "
                  "print(float(m.predict([np.ones((1, 4)), np.full((1, 4), 2.0)], verbose=0)[0, 0]))")
        done = subprocess.run([python, "-c", reader, str(tmp_path / "scaled.h5")], capture_output=True, text=True,
                              timeout=300, check=False, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
        assert done.returncode == 0, done.stderr[-2000:]
        assert abs(float(done.stdout.split()[-1]) - 1.34) < 1e-6
