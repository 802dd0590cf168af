"""fitgen.activations against tf-keras 2.21 values (computed once with tf-keras, stored as literals)."""
import numpy as np
import pytest
import torch

from fitgen import activations

X = [[-3.0, -1.0, -0.2, 0.0, 0.3, 1.0, 2.6, 7.0]]

# tf_keras.activations.<name>(X) in tf-keras 2.21.
TF_VALUES = {
    "elu": [-0.950212955, -0.63212055, -0.181269228, 0, 0.300000012, 1, 2.5999999, 7],
    "selu": [-1.6705687, -1.11133075, -0.318689317, 0, 0.315210313, 1.05070102, 2.73182249, 7.35490704],
    "softplus": [0.0485873558, 0.313261688, 0.598138869, 0.693147182, 0.854355216, 1.31326163, 2.67164469, 7.00091171],
    "softsign": [-0.75, -0.5, -0.166666657, 0, 0.230769247, 0.5, 0.722222209, 0.875],
    "swish": [-0.142277598, -0.268941402, -0.0900331885, 0, 0.172332734, 0.731058538, 2.42024016, 6.99362278],
    "gelu": [-0.00404969649, -0.158655256, -0.0841480568, 0, 0.185373425, 0.841344714, 2.58788085, 7],
    "tanh": [-0.995054722, -0.761594176, -0.197375327, 0, 0.291312635, 0.761594176, 0.9890275, 0.999998331],
    "sigmoid": [0.0474258661, 0.268941402, 0.450165927, 0.5, 0.574442446, 0.731058538, 0.930861592, 0.999088943],
    "exponential": [0.0497870706, 0.36787945, 0.818730772, 1, 1.34985876, 2.71828175, 13.4637365, 1096.63318],
    "hard_sigmoid": [0, 0.300000012, 0.460000008, 0.5, 0.560000002, 0.699999988, 1, 1],
    "mish": [-0.145647481, -0.3034015, -0.107144788, 0, 0.20800139, 0.865098417, 2.57526135, 6.99998903],
    "softmax": [4.45960359e-05, 0.000329522591, 0.000733366178, 0.000895735226, 0.00120911631, 0.00243486091, 0.0120599428, 0.98229295],
    "linear": X[0],
}


def _tensor(values):
    return torch.tensor(values, dtype=torch.float32)


@pytest.mark.parametrize("name", sorted(TF_VALUES))
def test_activation_matches_tf_keras(name):
    got = activations.get(name)(_tensor(X))
    np.testing.assert_allclose(got.numpy()[0], TF_VALUES[name], rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("kwargs, expected", [
    ({"alpha": 0.1, "max_value": 2.0, "threshold": 0.25},
     [-0.325, -0.125, -0.045, -0.025, 0.3, 1.0, 2.0, 2.0]),
    ({"alpha": 0.1}, [-0.3, -0.1, -0.02, 0.0, 0.3, 1.0, 2.6, 7.0]),
    ({"max_value": 6}, [0.0, 0.0, 0.0, 0.0, 0.3, 1.0, 2.6, 6.0]),
    ({"threshold": 0.5}, [0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 2.6, 7.0]),
])
def test_relu_options(kwargs, expected):
    np.testing.assert_allclose(activations.relu(_tensor(X), **kwargs).numpy()[0], expected, rtol=1e-6, atol=1e-7)


def test_gelu_approximate_and_elu_alpha():
    got = activations.gelu(_tensor(X), approximate=True).numpy()[0]
    expected = 0.5 * np.array(X[0]) * (1 + np.tanh(np.sqrt(2 / np.pi) * (np.array(X[0]) + 0.044715 * np.array(X[0]) ** 3)))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(activations.elu(_tensor(X), alpha=0.5).numpy()[0][:2],
                               [0.5 * (np.exp(-3) - 1), 0.5 * (np.exp(-1) - 1)], rtol=1e-6)


def test_hard_sigmoid_is_tf_keras_2_definition_not_keras_3():
    # tf-keras 2.21 (and Keras 2.2.4): clip(0.2x + 0.5, 0, 1); Keras 3's relu6(x + 3) / 6 would give 0.6667 at 1.
    got = activations.hard_sigmoid(_tensor([-2.5, 1.0, 2.5]))
    np.testing.assert_allclose(got.numpy(), [0.0, 0.7, 1.0], atol=1e-7)


def test_softmax_axis_tuple_and_1d_error():
    x = torch.randn(2, 3, 4)
    out = activations.softmax(x, axis=(1, 2))
    np.testing.assert_allclose(out.sum(dim=(1, 2)).numpy(), [1.0, 1.0], rtol=1e-6)
    with pytest.raises(ValueError, match="1D"):
        activations.softmax(torch.randn(5))


@pytest.mark.parametrize("fn", [activations.softmax, activations.sigmoid])
def test_keras_logits_attached_and_autograd_intact(fn):
    x = torch.randn(4, 3, requires_grad=True)
    out = fn(x)
    assert out._keras_logits is x
    out.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_other_activations_attach_nothing():
    assert not hasattr(activations.tanh(torch.randn(2, 2)), "_keras_logits")
    assert not hasattr(activations.relu(torch.randn(2, 2)), "_keras_logits")


def test_log_softmax_relu6_leaky_relu():
    x = torch.tensor([[-8.0, 0.5, 3.0]])
    np.testing.assert_allclose(activations.log_softmax(x).numpy(), torch.log(torch.softmax(x, -1)).numpy(), rtol=1e-5)
    np.testing.assert_allclose(activations.relu6(torch.tensor([-1.0, 3.0, 9.0])).numpy(), [0.0, 3.0, 6.0])
    np.testing.assert_allclose(activations.leaky_relu(torch.tensor([-1.0, 2.0])).numpy(), [-0.2, 2.0])


def test_get_resolution():
    assert activations.get(None) is activations.linear
    assert activations.get("relu") is activations.relu
    assert activations.get("silu") is activations.swish
    assert activations.get("softmax_v2") is activations.softmax

    def custom(x):
        return x * 2
    assert activations.get(custom) is custom
    assert activations.get({"module": "builtins", "class_name": "function", "config": "tanh",
                             "registered_name": "function"}) is activations.tanh


def test_get_unknown_name_lists_accepted_names():
    with pytest.raises(ValueError) as info:
        activations.get("relux")
    message = str(info.value)
    assert "'relux'" in message and "relu" in message and "hard_sigmoid" in message


def test_get_rejects_non_callable():
    with pytest.raises(TypeError, match="Could not interpret activation"):
        activations.get(3)


@pytest.mark.parametrize("name", ["softmax", "elu", "selu", "softplus", "softsign", "swish", "relu", "gelu",
                                  "tanh", "sigmoid", "exponential", "hard_sigmoid", "linear", "mish",
                                  "log_softmax", "relu6", "leaky_relu"])
def test_serialize_deserialize_round_trip(name):
    fn = activations.get(name)
    assert activations.serialize(fn) == name
    assert activations.deserialize(name) is fn


def test_serialize_silu_gives_swish_as_tf_keras():
    assert activations.serialize(activations.silu) == "swish"


def test_deserialize_custom_objects():
    def my_act(x):
        return x + 1
    assert activations.deserialize("my_act", custom_objects={"my_act": my_act}) is my_act
