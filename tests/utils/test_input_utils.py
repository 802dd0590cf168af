"""`to_categorical` and `pad_sequences` take what Keras 2 takes and refuse the rest naming the argument."""
import numpy as np
import pytest

from fitgen.preprocessing.sequence import pad_sequences
from fitgen.utils import to_categorical


@pytest.mark.parametrize("y,kwargs,error,words", [
    ([0, 1], dict(num_classes=2.5), ValueError, r"`num_classes` must be a positive integer.*2.5"),
    ([0, 1], dict(num_classes="3"), TypeError, r"`num_classes`.*'3'.*str"),
    ([0, 1], dict(num_classes=-2), ValueError, r"`num_classes`"),
    ([np.nan, 1], {}, ValueError, r"`to_categorical` expects integer class labels.*NaN"),
    ([np.inf, 1], {}, ValueError, r"NaN or infinite"),
    (["a", "b"], {}, TypeError, r"integer class labels.*dtype <U1"),
    ([None, 1], {}, TypeError, r"integer class labels"),
    ([0, 3], dict(num_classes=3), ValueError, r"`num_classes` must be greater than every label.*3"),
    ([-1, 0], {}, ValueError, r"non-negative"),
], ids=["fraction", "string", "negative", "nan", "inf", "strings", "none", "too-few", "negative-label"])
def test_to_categorical_refuses_naming_the_argument(y, kwargs, error, words):
    with pytest.raises(error, match=words):
        to_categorical(y, **kwargs)


def test_to_categorical_accepts_what_keras2_accepts():
    np.testing.assert_array_equal(to_categorical([0, 2], num_classes=3.0), [[1, 0, 0], [0, 0, 1]])
    np.testing.assert_array_equal(to_categorical(np.array([[1], [0]], "uint8")), [[0, 1], [1, 0]])
    np.testing.assert_array_equal(to_categorical([True, False]), [[0, 1], [1, 0]])
    np.testing.assert_array_equal(to_categorical([1.0, 0.0], num_classes=0), [[0, 1], [1, 0]])
    np.testing.assert_array_equal(to_categorical(np.array([1, 0], dtype=object)), [[0, 1], [1, 0]])


def test_pad_sequences_of_strings_needs_a_string_dtype():
    with pytest.raises(TypeError, match=r"`sequences\[0\]` holds str values .*dtype int32.*dtype=object"):
        pad_sequences([["a", "b"]])
    with pytest.raises(TypeError, match=r"`sequences\[1\]` holds NoneType/int values"):
        pad_sequences([[1, 2], [3, None]])
    assert pad_sequences([["a", "b"], ["c"]], dtype=object, value="").tolist() == [["a", "b"], ["", "c"]]
    assert pad_sequences([[1.5, 2]], dtype="float32").tolist() == [[1.5, 2.0]]
