"""Bidirectional and TimeDistributed: tf-keras 2.21 parity, names, weights, configs."""
import numpy as np
import pytest
import torch
from helpers.layer_harness import check_layer
from recurrent_case_runner import check_case, load_cases

from fitgen.layers.normalization import BatchNormalization
from fitgen.layers.recurrent import GRU, LSTM, SimpleRNN
from fitgen.layers.wrappers import Bidirectional, TimeDistributed

CASES = load_cases("wrappers_cases.npz")


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_tf_keras(name):
    if "dense" in name:
        pytest.importorskip("fitgen.layers.core")
    check_case(CASES[name])


def test_bidirectional_names_weights_and_config():
    layer = Bidirectional(LSTM(3, return_sequences=True), merge_mode="sum")
    out = layer(torch.randn(2, 4, 5))
    assert tuple(out.shape) == (2, 4, 3)
    assert layer.forward_layer.name == "forward_lstm" and layer.backward_layer.name == "backward_lstm"
    assert layer.backward_layer.go_backwards and not layer.forward_layer.go_backwards
    assert [w.name for w in layer.weights][:1] == ["forward_lstm/lstm_cell/kernel:0"]
    assert [w.name for w in layer.weights][3:4] == ["backward_lstm/lstm_cell/kernel:0"]
    config = layer.get_config()
    assert config["layer"]["class_name"] == "LSTM" and config["layer"]["config"]["name"] == "lstm"
    assert config["merge_mode"] == "sum"
    clone = Bidirectional.from_config(config)
    clone(torch.randn(2, 4, 5))
    clone.set_weights(layer.get_weights())
    x = torch.randn(2, 4, 5)
    torch.testing.assert_close(clone(x), layer(x))


def test_bidirectional_initial_weights_and_return_state():
    template = Bidirectional(GRU(2, return_state=True), merge_mode=None)
    template(torch.zeros(1, 3, 4))
    weights = [w + 0.1 for w in template.get_weights()]
    layer = Bidirectional(GRU(2, return_state=True), merge_mode=None, weights=weights)
    outputs = layer(torch.randn(2, 3, 4))
    assert len(outputs) == 4 and all(tuple(o.shape) == (2, 2) for o in outputs)
    for got, want in zip(layer.get_weights(), weights):
        np.testing.assert_allclose(got, want)
    assert layer.compute_output_shape((None, 3, 4)) == [(None, 2), (None, 2), (None, 2), (None, 2)]
    concat = Bidirectional(LSTM(2, return_state=True, return_sequences=True))
    assert concat.compute_output_shape((None, 3, 4)) == [(None, 3, 4)] + [(None, 2)] * 4


def test_bidirectional_rejects_bad_arguments():
    with pytest.raises(ValueError, match="merge mode"):
        Bidirectional(LSTM(2), merge_mode="max")
    with pytest.raises(ValueError, match="Layer"):
        Bidirectional(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="go_backwards"):
        Bidirectional(LSTM(2), backward_layer=LSTM(2))


def test_frozen_template_gives_frozen_wrapper():
    inner = SimpleRNN(2)
    inner.trainable = False
    layer = Bidirectional(inner)
    layer(torch.zeros(1, 3, 2))
    assert not layer.trainable and layer.trainable_weights == []


def test_time_distributed_weights_and_training_flag():
    layer = TimeDistributed(BatchNormalization())
    x = torch.randn(2, 3, 4) * 2 + 1
    out = layer(x, training=True)
    assert [w.shape for w in layer.weights] == [(4,)] * 4
    torch.testing.assert_close(out.reshape(-1, 4).mean(0), torch.zeros(4), atol=1e-5, rtol=0)
    assert layer.compute_output_shape((None, 3, 4)) == (None, 3, 4)
    assert layer.get_config()["layer"]["class_name"] == "BatchNormalization"
    with pytest.raises(ValueError, match="3 dimensions"):
        TimeDistributed(BatchNormalization()).build((None, 4))


def test_time_distributed_passes_mask():
    x = torch.randn(2, 3, 4)
    x._keras_mask = torch.tensor([[True, False, True], [True, True, False]])
    assert TimeDistributed(BatchNormalization())(x)._keras_mask is x._keras_mask


def test_layer_harness():
    check_layer(Bidirectional, {"layer": LSTM(3, return_sequences=True)}, (2, 5, 4), (2, 5, 6))
    check_layer(Bidirectional, {"layer": GRU(3), "merge_mode": "ave"}, (2, 5, 4), (2, 3))
    check_layer(TimeDistributed, {"layer": LSTM(2)}, (2, 3, 5, 4), (2, 3, 2))
