"""Merge layers and their function forms: values, broadcasting, shapes, masks, errors."""
import numpy as np
import pytest
import torch

from fitgen.engine.input_layer import Input
from fitgen.layers import merge
from fitgen.layers.merge import Add, Average, Concatenate, Dot, Maximum, Minimum, Multiply, Subtract
from helpers.layer_harness import check_layer


@pytest.mark.parametrize("cls,fn", [(Add, np.add), (Multiply, np.multiply), (Maximum, np.maximum),
                                    (Minimum, np.minimum), (Subtract, np.subtract)])
def test_elementwise(cls, fn):
    out = check_layer(cls, {}, [(2, 3, 4), (2, 3, 4)], (2, 3, 4))
    assert out.shape == (2, 3, 4)
    a, b = torch.randn(2, 3), torch.randn(2, 3)
    np.testing.assert_allclose(cls()([a, b]).numpy(), fn(a.numpy(), b.numpy()), rtol=1e-6)


def test_average_and_three_inputs():
    check_layer(Average, {}, [(2, 4)] * 3, (2, 4))
    xs = [torch.randn(2, 4) for _ in range(3)]
    np.testing.assert_allclose(Average()(xs).numpy(), sum(x.numpy() for x in xs) / 3, rtol=1e-6)
    np.testing.assert_allclose(Add()(xs).numpy(), sum(x.numpy() for x in xs), rtol=1e-6)


def test_broadcasting_like_keras():
    check_layer(Add, {}, [(2, 3, 4), (2, 4)], (2, 3, 4))
    check_layer(Multiply, {}, [(2, 3, 4), (2, 1, 4)], (2, 3, 4))
    assert Add().compute_output_shape([(None, 3, 4), (None, 4)]) == (None, 3, 4)
    assert Add().compute_output_shape([(None, None, 4), (None, 5, 4)]) == (None, None, 4)
    with pytest.raises(ValueError, match="incompatible"):
        Add().compute_output_shape([(None, 3), (None, 4)])


def test_merge_errors():
    with pytest.raises(ValueError, match="exactly 2"):
        Subtract()([Input((3,)), Input((3,)), Input((3,))])
    with pytest.raises(ValueError, match="list of inputs"):
        Add()(Input((3,)))


def test_merge_masks_are_anded():
    a, b = torch.randn(2, 3, 4), torch.randn(2, 3, 4)
    a._keras_mask = torch.tensor([[True, True, False], [True, True, True]])
    b._keras_mask = torch.tensor([[True, False, True], [True, True, True]])
    out = Add()([a, b])
    np.testing.assert_array_equal(out._keras_mask.numpy(), [[True, False, False], [True, True, True]])
    assert getattr(Add()([torch.randn(1, 2), torch.randn(1, 2)]), "_keras_mask", None) is None


@pytest.mark.parametrize("axis,shapes,expected", [(-1, [(2, 3, 4), (2, 3, 2)], (2, 3, 6)),
                                                  (1, [(2, 3, 4), (2, 1, 4)], (2, 4, 4)),
                                                  (-1, [(2, 3), (2, 5), (2, 1)], (2, 9))])
def test_concatenate(axis, shapes, expected):
    check_layer(Concatenate, {"axis": axis}, shapes, expected)


def test_concatenate_shapes_and_masks():
    assert Concatenate().compute_output_shape([(None, 3), (None, None)]) == (None, None)
    with pytest.raises(ValueError, match="matching shapes"):
        Concatenate(axis=1).compute_output_shape([(None, 3, 4), (None, 3, 5)])
    a, b = torch.randn(2, 3, 4), torch.randn(2, 3, 2)
    a._keras_mask = torch.tensor([[True, False, True], [True, True, True]])
    out = Concatenate()([a, b])
    np.testing.assert_array_equal(out._keras_mask.numpy(), a._keras_mask.numpy())


@pytest.mark.parametrize("kwargs,shapes,expected", [
    ({"axes": 1}, [(2, 5), (2, 5)], (2, 1)),
    ({"axes": -1, "normalize": True}, [(2, 5), (2, 5)], (2, 1)),
    ({"axes": 2}, [(2, 3, 4), (2, 5, 4)], (2, 3, 5)),
    ({"axes": (1, 1), "normalize": True}, [(2, 3, 4), (2, 3, 5)], (2, 4, 5)),
    ({"axes": [2, 1]}, [(2, 3, 4), (2, 4, 6)], (2, 3, 6)),
])
def test_dot(kwargs, shapes, expected):
    check_layer(Dot, kwargs, shapes, expected)


def test_dot_values():
    a, b = torch.randn(3, 4), torch.randn(3, 4)
    np.testing.assert_allclose(Dot(1)([a, b]).numpy()[:, 0], (a * b).sum(1).numpy(), rtol=1e-5)
    cos = Dot(1, normalize=True)([a, b]).numpy()[:, 0]
    np.testing.assert_allclose(cos, torch.nn.functional.cosine_similarity(a, b).numpy(), rtol=1e-5)
    with pytest.raises(ValueError, match="axes"):
        Dot(axes=(1, 2, 3))
    with pytest.raises(ValueError, match="Incompatible"):
        Dot(1).compute_output_shape([(None, 3), (None, 4)])
    assert Dot((1, 2)).get_config()["axes"] == (1, 2)


def test_function_forms():
    a, b = Input((4,)), Input((4,))
    assert merge.add([a, b]).shape == (None, 4)
    assert merge.subtract([a, b]).shape == (None, 4)
    assert merge.multiply([a, b]).shape == (None, 4)
    assert merge.average([a, b]).shape == (None, 4)
    assert merge.maximum([a, b]).shape == (None, 4)
    assert merge.minimum([a, b]).shape == (None, 4)
    assert merge.concatenate([a, b]).shape == (None, 8)
    assert merge.concatenate([a, b], axis=1, name="joined").shape == (None, 8)
    assert merge.dot([a, b], axes=1, normalize=True).shape == (None, 1)
    x, y = torch.ones(2, 4), torch.full((2, 4), 2.0)
    np.testing.assert_allclose(merge.add([x, y]).numpy(), 3.0)
