"""Core layers: shapes, configs, masks, training-phase behaviour, Lambda serialisation and its safe mode."""
import json

import numpy as np
import pytest
import torch

from fitgen import regularizers
from fitgen.engine.input_layer import Input
from fitgen.layers import core
from fitgen.layers.core import (Activation, ActivityRegularization, Dense, Dropout, Flatten, Lambda, Permute,
                                RepeatVector, Reshape)
from helpers.layer_harness import check_layer


@pytest.mark.parametrize("kwargs,input_shape,expected", [
    ({"units": 3}, (4, 5), (4, 3)),
    ({"units": 3, "activation": "relu", "use_bias": False}, (4, 5), (4, 3)),
    ({"units": 2, "activation": "softmax"}, (2, 6, 5), (2, 6, 2)),
    ({"units": 2, "kernel_regularizer": "l2", "bias_regularizer": regularizers.l1(0.1),
      "activity_regularizer": "l1", "kernel_constraint": "max_norm", "kernel_initializer": "he_normal"},
     (3, 2, 2, 4), (3, 2, 2, 2)),
])
def test_dense(kwargs, input_shape, expected):
    check_layer(Dense, kwargs, input_shape, expected)


def test_dense_weights_and_numbers():
    layer = Dense(3, activation="tanh")
    x = torch.randn(4, 5)
    y = layer(x)
    kernel, bias = layer.get_weights()
    assert kernel.shape == (5, 3) and bias.shape == (3,)
    np.testing.assert_allclose(y.detach().numpy(), np.tanh(x.numpy() @ kernel + bias), rtol=1e-5, atol=1e-6)
    assert [w.name for w in layer.weights] == ["dense/kernel:0", "dense/bias:0"]


def test_dense_errors():
    with pytest.raises(ValueError, match="units"):
        Dense(0)
    with pytest.raises(ValueError, match="last dimension"):
        Dense(2).build((None, None))


def test_dense_config_keys_match_tf_keras():
    config = Dense(4).get_config()
    assert set(config) == {"name", "trainable", "dtype", "units", "activation", "use_bias", "kernel_initializer",
                           "bias_initializer", "kernel_regularizer", "bias_regularizer", "activity_regularizer",
                           "kernel_constraint", "bias_constraint"}
    assert config["activation"] == "linear"


def test_dense_from_tf_keras_config():
    with open("tests/fixtures/keras2/mlp.json") as f:
        layers = json.load(f)["config"]["layers"]
    dense = Dense.from_config(layers[1]["config"])
    assert dense.units == 64 and dense.name == "dense_a"
    assert dense.activation.__name__ == "relu"


def test_dense_passes_mask():
    x = torch.randn(2, 3, 4)
    x._keras_mask = torch.tensor([[True, True, False], [True, False, False]])
    assert Dense(2)(x)._keras_mask is x._keras_mask


def test_activation_layer():
    check_layer(Activation, {"activation": "relu"}, (3, 4), (3, 4))
    out = Activation("softmax")(torch.randn(2, 3))
    assert hasattr(out, "_keras_logits")
    with pytest.raises(ValueError, match="nope"):
        Activation("nope")


@pytest.mark.parametrize("kwargs", [{"rate": 0.5}, {"rate": 0.3, "noise_shape": (None, 1, 4), "seed": 3},
                                    {"rate": 0.2, "seed": 7}])
def test_dropout_harness(kwargs):
    check_layer(Dropout, kwargs, (3, 5, 4), (3, 5, 4))


def test_dropout_only_in_training():
    layer = Dropout(0.5)
    x = torch.ones(200, 50)
    layer.eval()
    assert torch.equal(layer(x), x)
    assert torch.equal(layer(x, training=False), x)
    layer.train()
    y = layer(x)
    values = set(y.unique().tolist())
    assert values == {0.0, 2.0}
    assert 0.4 < (y == 0).float().mean().item() < 0.6
    layer.eval()
    assert (layer(x, training=True) == 0).any()


def test_dropout_output_is_keras_scale_times_input_where_kept():
    # tf-keras: x * (1 / (1 - rate)) * keep_mask, with keep_mask = uniform >= rate.
    torch.manual_seed(1)
    x = torch.randn(300, 40)
    y = Dropout(0.3)(x, training=True)
    kept = y != 0
    assert torch.equal(y[kept], (x * (1 / 0.7))[kept])
    assert abs(float(kept.float().mean()) - 0.7) < 0.01
    assert not Dropout(1.0)(x, training=True).any()


def test_dropout_noise_shape_and_seed():
    x = torch.ones(4, 6, 8)
    y1 = Dropout(0.5, noise_shape=(None, 1, 8), seed=1)(x, training=True)
    # The same features are dropped at every timestep.
    assert torch.equal(y1, y1[:, :1, :].expand_as(y1))
    y2 = Dropout(0.5, noise_shape=(None, 1, 8), seed=1)(x, training=True)
    assert torch.equal(y1, y2)
    with pytest.raises(ValueError, match="rate"):
        Dropout(1.5)


@pytest.mark.parametrize("input_shape,expected", [((2, 3, 4, 5), (2, 60)), ((2, 7), (2, 7)), ((3,), (3, 1))])
def test_flatten(input_shape, expected):
    if len(input_shape) == 1:
        assert Flatten()(torch.randn(*input_shape)).shape == expected
        assert Flatten().compute_output_shape((None,)) == (None, 1)
    else:
        check_layer(Flatten, {}, input_shape, expected)


def test_flatten_is_channels_last_order():
    x = torch.arange(24.0).reshape(1, 2, 3, 4)
    np.testing.assert_array_equal(Flatten()(x).numpy(), x.numpy().reshape(1, -1))
    assert Flatten().compute_output_shape((None, None, 3)) == (None, None)
    # channels_first inputs are flattened in channels_last order too (Keras moves the channels last first).
    np.testing.assert_array_equal(Flatten(data_format="channels_first")(x).numpy(),
                                  x.numpy().transpose(0, 2, 3, 1).reshape(1, -1))
    with pytest.raises(ValueError, match="data_format"):
        Flatten(data_format="channels_middle")


@pytest.mark.parametrize("target,input_shape,expected", [((6, 2), (2, 3, 4), (2, 6, 2)), ((-1,), (2, 3, 4), (2, 12)),
                                                         ((2, -1, 3), (2, 4, 3), (2, 2, 2, 3))])
def test_reshape(target, input_shape, expected):
    check_layer(Reshape, {"target_shape": target}, input_shape, expected)


def test_reshape_errors_and_unknown_dims():
    with pytest.raises(ValueError, match="unchanged"):
        Reshape((5,)).compute_output_shape((None, 2, 3))
    with pytest.raises(ValueError, match="at most one"):
        Reshape((-1, -1))
    assert Reshape((-1, 2)).compute_output_shape((None, None, 4)) == (None, None, 2)


def test_permute():
    out = check_layer(Permute, {"dims": (2, 1)}, (2, 3, 4), (2, 4, 3))
    check_layer(Permute, {"dims": (3, 1, 2)}, (2, 3, 4, 5), (2, 5, 3, 4))
    with pytest.raises(ValueError, match="consecutive"):
        Permute((0, 1))
    assert out.shape == (2, 4, 3)


def test_repeat_vector():
    out = check_layer(RepeatVector, {"n": 3}, (2, 4), (2, 3, 4))
    np.testing.assert_array_equal(out[:, 0].numpy(), out[:, 2].numpy())


def test_activity_regularization_adds_loss():
    check_layer(ActivityRegularization, {"l1": 0.1, "l2": 0.2}, (2, 3), (2, 3))
    layer = ActivityRegularization(l1=0.5)
    x = torch.tensor([[1.0, -2.0], [3.0, 0.0]])
    assert torch.equal(layer(x), x)
    (loss,) = layer.losses
    assert float(loss) == pytest.approx(0.5 * 6.0 / 2)
    assert layer.get_config()["l1"] == 0.5


def square_plus(x, offset=0.0):
    return x * x + offset


def test_lambda_shapes_and_arguments():
    check_layer(Lambda, {"function": square_plus, "arguments": {"offset": 1.0}}, (2, 3), (2, 3))
    out = Lambda(square_plus, arguments={"offset": 1.0})(torch.full((1, 2), 2.0))
    np.testing.assert_allclose(out.numpy(), [[5.0, 5.0]])
    symbolic = Lambda(lambda t: t[:, :2] * 2)(Input((5, 3)))
    assert symbolic.shape == (None, 2, 3)
    summed = Lambda(lambda ts: ts[0] + ts[1])([Input((3,)), Input((3,))])
    assert summed.shape == (None, 3)
    declared = Lambda(lambda t: t.sum(-1, keepdim=True), output_shape=(1,))
    assert declared.compute_output_shape((None, 4)) == (None, 1)
    assert Lambda(lambda t: t.argmax(-1))(Input((4,))).dtype == "int64"


def test_lambda_named_function_round_trip():
    layer = Lambda(square_plus, arguments={"offset": np.array([1.0, 2.0])})
    config = json.loads(json.dumps(layer.get_config()))
    assert config["function"] == "square_plus" and config["function_type"] == "function"
    assert config["module"] == __name__
    assert config["arguments"]["offset"] == {"type": "ndarray", "value": [1.0, 2.0]}
    clone = Lambda.from_config(config, custom_objects={"square_plus": square_plus})
    assert clone.function is square_plus
    np.testing.assert_array_equal(clone.arguments["offset"], [1.0, 2.0])


def test_lambda_bytecode_needs_safe_mode_off(monkeypatch):
    scale = 3.0
    layer = Lambda(lambda t, k=2.0: t * k * scale)
    config = json.loads(json.dumps(layer.get_config()))
    assert config["function_type"] == "lambda"
    assert set(config) >= {"function", "function_type", "module", "output_shape", "output_shape_type",
                           "output_shape_module", "arguments"}
    assert core.LAMBDA_SAFE_MODE is True
    with pytest.raises(ValueError, match="safe_mode=False"):
        Lambda.from_config(config)
    monkeypatch.setattr(core, "LAMBDA_SAFE_MODE", False)
    clone = Lambda.from_config(config)
    np.testing.assert_allclose(clone(torch.ones(1, 2)).numpy(), [[6.0, 6.0]])


def test_lambda_unknown_function_name():
    config = Lambda(square_plus).get_config()
    config["function"], config["module"] = "not_there", "no.such.module"
    with pytest.raises(ValueError, match="custom_objects"):
        Lambda.from_config(config)


def test_lambda_mask_and_training_arguments():
    seen = {}

    def fn(x, mask=None, training=None):
        seen.update(mask=mask, training=training)
        return x * 1.0

    x = torch.randn(2, 3, 4)
    x._keras_mask = torch.ones(2, 3, dtype=torch.bool)
    layer = Lambda(fn, mask=lambda inputs, mask: mask[:, :2])
    layer.train()
    out = layer(x)
    assert seen["mask"] is x._keras_mask and seen["training"] is True
    assert out._keras_mask.shape == (2, 2)
