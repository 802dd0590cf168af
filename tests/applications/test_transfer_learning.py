"""Transfer learning as Keras 2 users write it: a frozen application base keeps its weights and BatchNormalization
statistics (frozen BN runs in inference mode, tf-keras 2.x's rule), per-layer unfreezing trains only the chosen
layers, and examples/transfer_learning.py runs end to end and saves an .h5 that fitgen (and tf-keras, when
FITGEN_TFKERAS_PYTHON names one) loads with the same predictions."""
import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import fitgen
from fitgen.applications import MobileNet
from fitgen.layers import BatchNormalization, Dense, GlobalAveragePooling2D
from fitgen.models import Sequential, load_model

pytest.importorskip("PIL")
EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "transfer_learning.py")
PYTHON = os.environ.get("FITGEN_TFKERAS_PYTHON")


def _model():
    base = MobileNet(alpha=0.25, include_top=False, weights=None, input_shape=(32, 32, 3))
    model = Sequential([base, GlobalAveragePooling2D(), Dense(1, activation="sigmoid")])
    return base, model


def _bn_statistics(base):
    return {layer.name: [w.copy() for w in layer.get_weights()[2:]] for layer in base.layers
            if isinstance(layer, BatchNormalization)}


def test_frozen_base_keeps_weights_and_batchnorm_statistics():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(16, 32, 32, 3)).astype("float32"), rng.integers(0, 2, (16, 1)).astype("float32")
    base, model = _model()
    assert model.input_shape == (None, 32, 32, 3) and model.layers[0] is base
    base.trainable = False
    model.compile("rmsprop", "binary_crossentropy")
    before = base.get_weights()
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(before, base.get_weights()))
    assert len(model.trainable_weights) == 2
    with torch.no_grad():  # a frozen BN layer computes with its moving statistics even in training mode
        np.testing.assert_allclose(base(torch.from_numpy(x), training=True).numpy(),
                                   base.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_unfreezing_the_top_block_trains_only_it():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(16, 32, 32, 3)).astype("float32"), rng.integers(0, 2, (16, 1)).astype("float32")
    base, model = _model()
    base.trainable = True
    trainable = False
    for layer in base.layers:
        trainable = trainable or layer.name == "conv_dw_13"
        layer.trainable = trainable
    model.compile(fitgen.optimizers.SGD(lr=0.01), "binary_crossentropy")
    before = _bn_statistics(base)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    after = _bn_statistics(base)
    changed = {name for name in before if not all(np.array_equal(a, b) for a, b in zip(before[name], after[name]))}
    assert changed == {"conv_dw_13_bn", "conv_pw_13_bn"}


def _load_example():
    spec = importlib.util.spec_from_file_location("transfer_learning_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


READER = r"""
import os, sys
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np
import tf_keras
model = tf_keras.models.load_model(sys.argv[1])
np.save(sys.argv[3], model.predict(np.load(sys.argv[2]), verbose=0))
print(model.optimizer.__class__.__name__, [layer.name for layer in model.layers][0])
"""


def test_example_runs_and_saves_a_model_keras_loads(tmp_path, monkeypatch, capsys):
    output = tmp_path / "transfer.h5"
    monkeypatch.setattr(sys, "argv", [EXAMPLE, "--images-per-class", "16", "--epochs", "1", "--fine-tune-epochs",
                                      "1", "--pretrain-epochs", "1", "--batch-size", "8", "--output", str(output)])
    _load_example().main()
    printed = capsys.readouterr().out
    assert "frozen base unchanged by training (weights and BatchNormalization statistics): True" in printed
    assert "trainable weights while fine-tuning: 10" in printed
    model = load_model(output)
    x = np.random.default_rng(2).uniform(-1, 1, (3, 64, 64, 3)).astype("float32")
    expected = model.predict(x, verbose=0)
    assert expected.shape == (3, 1)
    if not PYTHON:
        return
    np.save(tmp_path / "x.npy", x)
    (tmp_path / "reader.py").write_text(READER)
    done = subprocess.run([PYTHON, str(tmp_path / "reader.py"), str(output), str(tmp_path / "x.npy"),
                           str(tmp_path / "y.npy")], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split()[-2:] == ["RMSprop", "mobilenet_0.25_64"]
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), expected, rtol=1e-5, atol=1e-6)
