"""to_categorical and normalize against Keras 2's documented results."""
import numpy as np
import pytest

from fitgen.utils import np_utils
from fitgen.utils.np_utils import normalize
from fitgen.utils.np_utils import to_categorical


def test_to_categorical_basic():
    out = to_categorical([0, 2, 1, 2])
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [[1, 0, 0], [0, 0, 1], [0, 1, 0], [0, 0, 1]])


def test_to_categorical_num_classes_dtype_and_shapes():
    out = to_categorical(np.array([[1], [0]]), num_classes=4, dtype="int64")
    assert out.shape == (2, 4) and out.dtype == np.int64  # trailing axis of 1 dropped, as in Keras
    np.testing.assert_array_equal(out, [[0, 1, 0, 0], [1, 0, 0, 0]])
    out = to_categorical(np.array([[0, 1, 2], [2, 1, 0]]))
    assert out.shape == (2, 3, 3)
    np.testing.assert_array_equal(out[1, 0], [0, 0, 1])
    assert to_categorical(3, num_classes=5).tolist() == [0, 0, 0, 1, 0]
    assert to_categorical([1.0, 0.0]).tolist() == [[0, 1], [1, 0]]


def test_to_categorical_rejects_labels_out_of_range():
    with pytest.raises(ValueError, match="num_classes=2 while y contains the label 2"):
        to_categorical([0, 2], num_classes=2)
    with pytest.raises(ValueError, match="non-negative"):
        to_categorical([0, -1])


def test_normalize():
    x = np.array([[3.0, 4.0], [0.0, 0.0]])
    np.testing.assert_allclose(normalize(x), [[0.6, 0.8], [0.0, 0.0]])
    np.testing.assert_allclose(normalize(x, axis=0), [[1.0, 1.0], [0.0, 0.0]])
    np.testing.assert_allclose(normalize(np.array([1.0, -3.0]), order=1), [0.25, -0.75])
    assert normalize(np.ones((2, 3, 4)), axis=1).shape == (2, 3, 4)


def test_module_alias_names():
    assert np_utils.to_categorical is to_categorical and np_utils.normalize is normalize
