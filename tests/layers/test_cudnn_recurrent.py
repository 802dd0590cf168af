"""CuDNNLSTM / CuDNNGRU (`keras.layers.cudnn_recurrent`): Keras's cuDNN weight layout, checked through
tf-keras 2.21's own conversion to LSTM/GRU weights; config, files and conversions both ways."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from fitgen.layers import GRU, LSTM, CuDNNGRU, CuDNNLSTM, Embedding, Input
from fitgen.layers.cudnn_recurrent import CuDNNLSTM as CuDNNLSTMFromModule
from fitgen.models import Sequential, load_model

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "layers"
EXTRA = np.load(FIXTURES / "rnn_api_extra.npz")


@pytest.mark.parametrize("cls, kind", [(CuDNNLSTM, "lstm"), (CuDNNGRU, "gru")])
def test_cudnn_weights_mean_what_tf_keras_converts_them_to(cls, kind):
    """Random weights in cuDNN layout; tf-keras converted them to LSTM/GRU weights and ran that layer."""
    x = torch.from_numpy(EXTRA[f"cudnn_{kind}__x"])
    layer = cls(3, return_sequences=True)
    layer(x)
    layer.set_weights([EXTRA[f"cudnn_{kind}__w_{i}"] for i in range(3)])
    np.testing.assert_allclose(layer(x).detach().numpy(), EXTRA[f"cudnn_{kind}__y"], rtol=1e-5, atol=1e-6)
    for got, saved in zip(layer.get_weights(), (EXTRA[f"cudnn_{kind}__w_{i}"] for i in range(3))):
        np.testing.assert_array_equal(got, saved)


@pytest.mark.parametrize("cls, kind, gates", [(CuDNNLSTM, "lstm", 4), (CuDNNGRU, "gru", 3)])
def test_shapes_names_and_config_follow_tf_keras(cls, kind, gates):
    entry = json.loads(str(EXTRA[f"names__cudnn_{kind}_config"]))
    layer = cls.from_config(entry["config"])
    layer(torch.zeros(2, 3, 4))
    assert [w.shape for w in layer.weights] == [(4, gates * 3), (3, gates * 3), (2 * gates * 3,)]
    keras_names = json.loads(str(EXTRA[f"names__cudnn_{kind}"]))
    assert [w.name for w in layer.weights] == [f"{layer.name}/{name}" for name in keras_names]
    assert list(layer.get_config()) == list(entry["config"])
    assert CuDNNLSTMFromModule is CuDNNLSTM


def test_unit_forget_bias_sits_in_the_recurrent_forget_block():
    layer = CuDNNLSTM(2)
    layer(torch.zeros(1, 2, 3))
    expected = np.zeros(16, "float32")
    expected[10:12] = 1.0
    np.testing.assert_array_equal(layer.get_weights()[2], expected)


@pytest.mark.parametrize("cudnn_cls, plain_cls, plain_kwargs", [(CuDNNLSTM, LSTM, {}), (CuDNNGRU, GRU, {})])
def test_files_load_both_ways(tmp_path, cudnn_cls, plain_cls, plain_kwargs):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 5, 4)).astype("float32")
    model = Sequential([cudnn_cls(3, return_sequences=True, input_shape=(5, 4))])
    model.set_weights([rng.standard_normal(w.shape).astype("float32") * 0.5 for w in model.get_weights()])
    expected = model.predict(x, verbose=0)
    model.save(tmp_path / "cudnn.h5")
    loaded = load_model(tmp_path / "cudnn.h5", compile=False)
    assert type(loaded.layers[0]) is cudnn_cls
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, rtol=1e-6)
    plain = Sequential([plain_cls(3, return_sequences=True, input_shape=(5, 4), **plain_kwargs)])
    plain.load_weights(tmp_path / "cudnn.h5")  # cuDNN weights into LSTM/GRU, converted
    np.testing.assert_allclose(plain.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    plain.save_weights(tmp_path / "plain.h5")
    back = Sequential([cudnn_cls(3, return_sequences=True, input_shape=(5, 4))])
    back.load_weights(tmp_path / "plain.h5")  # and back
    np.testing.assert_allclose(back.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)


def test_masking_is_refused_as_in_keras():
    tokens = torch.tensor([[0, 1, 2], [3, 4, 0]])
    layer = CuDNNGRU(2)
    with pytest.raises(TypeError, match="does not support masking"):
        layer(Embedding(5, 3, mask_zero=True)(tokens))
    outputs = CuDNNLSTM(2, return_state=True)(Input((3, 4)))
    assert [t.shape for t in outputs] == [(None, 2), (None, 2), (None, 2)]
