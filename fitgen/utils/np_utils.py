"""NumPy helpers of Keras 2's `keras.utils.np_utils`: `to_categorical` and `normalize`."""
import numpy as np


def to_categorical(y, num_classes=None, dtype="float32"):
    """Converts a class vector (integers) to a binary class matrix.

    Used with `categorical_crossentropy`. A trailing axis of size 1 is dropped before the class axis
    is appended, so labels of shape `(n, 1)` give `(n, num_classes)`, as in Keras.

    Args:
        y: array-like of non-negative integer class labels (any shape).
        num_classes: total number of classes. Defaults to `max(y) + 1`.
        dtype: dtype of the returned matrix, `'float32'` by default.

    Returns:
        A one-hot array of shape `y.shape + (num_classes,)` (trailing 1 dropped).

    Raises:
        TypeError: labels or `num_classes` that are not numbers (strings, objects).
        ValueError: a label that is negative, NaN or infinite, or not smaller than `num_classes`; a
            `num_classes` that is not a whole number >= 1.

    Example:

    >>> to_categorical([0, 2, 1], num_classes=3)
    array([[1., 0., 0.],
           [0., 0., 1.],
           [0., 1., 0.]], dtype=float32)
    """
    y = _class_labels(y)
    num_classes = _num_classes(num_classes)
    input_shape = y.shape
    if input_shape and input_shape[-1] == 1 and len(input_shape) > 1:
        input_shape = tuple(input_shape[:-1])
    y = y.reshape(-1)
    if y.size and y.min() < 0:
        raise ValueError(
            f"Class labels passed to `to_categorical` must be non-negative integers. "
            f"Received: y containing {int(y.min())}."
        )
    if not num_classes:
        num_classes = int(np.max(y)) + 1 if y.size else 0
    elif y.size and y.max() >= num_classes:
        raise ValueError(
            f"`num_classes` must be greater than every label in `y`. Received: num_classes={num_classes} "
            f"while y contains the label {int(y.max())}."
        )
    n = y.shape[0]
    categorical = np.zeros((n, num_classes), dtype=dtype)
    categorical[np.arange(n), y] = 1
    return np.reshape(categorical, input_shape + (num_classes,))


def _class_labels(y):
    """`y` as an int array; fractional labels are truncated as Keras's `np.array(y, dtype='int')` does."""
    array = np.asarray(y)
    if array.dtype.kind not in "biuf":
        if array.dtype.kind == "O" and all(isinstance(v, (int, float, np.number, np.bool_))
                                           for v in array.ravel()):
            array = np.asarray(array.tolist(), dtype="float64")
        if array.dtype.kind not in "biuf":
            raise TypeError("`to_categorical` expects integer class labels. Received: y of dtype "
                            f"{np.asarray(y).dtype} (e.g. {np.asarray(y).ravel()[:3].tolist()!r})")
    if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
        raise ValueError("`to_categorical` expects integer class labels, but `y` holds NaN or infinite values "
                         f"(e.g. {array[~np.isfinite(array)][:3].tolist()}).")
    return array.astype("int")


def _num_classes(num_classes):
    if num_classes is None or (isinstance(num_classes, (int, np.integer)) and num_classes == 0):
        return None  # Keras: a falsy num_classes means max(y) + 1
    if isinstance(num_classes, (bool, np.bool_)) or not isinstance(num_classes, (int, float, np.number)):
        raise TypeError(f"`num_classes` must be a positive integer (or None for max(y) + 1). Received: "
                        f"num_classes={num_classes!r} of type {type(num_classes).__name__}")
    if not float(num_classes).is_integer() or num_classes < 1:
        raise ValueError(f"`num_classes` must be a positive integer (or None for max(y) + 1). Received: "
                         f"num_classes={num_classes!r}")
    return int(num_classes)


def normalize(x, axis=-1, order=2):
    """Normalizes a NumPy array along an axis.

    Args:
        x: NumPy array to normalize.
        axis: axis along which to normalize.
        order: normalization order (e.g. `order=2` for the L2 norm), as `np.linalg.norm`'s `ord`.

    Returns:
        A normalized copy of `x` with the shape of `x` (Keras 2 returned a 1-D input as shape
        `(1, n)`); slices whose norm is 0 are left unchanged.
    """
    norms = np.linalg.norm(x, order, axis, keepdims=True)
    norms[norms == 0] = 1
    return x / norms
