"""Shape and argument helpers of the convolution, pooling, padding and locally-connected layers.

Keras 2's public `keras.utils.conv_utils`: `normalize_tuple`, `normalize_padding`, `normalize_data_format`,
`conv_output_length`, `conv_input_length`, `deconv_length` (Keras 2.2) / `deconv_output_length` (tf-keras),
`convert_kernel`, `convert_data_format`, with Keras's names, signatures and rules. Below them, the helpers
fitgen's layers share to run Keras's layouts on torch's kernels: TensorFlow's 'same' padding, and the axis
permutations between channels_last tensors and torch's channels-first ones.

'same' padding follows TensorFlow: `pad_total = max((ceil(n/s) - 1)*s + (k-1)*d + 1 - n, 0)`, with
`pad_total // 2` before and the rest (one more when odd) after.
"""
import math

import numpy as np

from fitgen.backend.common import normalize_data_format  # noqa: F401  (Keras 2.2 exposed it here too)

# torch's convolutions read (N, C, *spatial); Keras's default tensors are (N, *spatial, C).
TO_CHANNELS_FIRST = {1: (0, 2, 1), 2: (0, 3, 1, 2), 3: (0, 4, 1, 2, 3)}
TO_CHANNELS_LAST = {1: (0, 2, 1), 2: (0, 2, 3, 1), 3: (0, 2, 3, 4, 1)}


# ------------------------------------------------------------------------------ Keras's public helpers
def normalize_tuple(value, n, name, allow_zero=False):
    """An int or an iterable of `n` ints, as a tuple of `n` ints (positive unless `allow_zero`).

    Args:
        value: an int (repeated `n` times) or an iterable of `n` ints.
        n: the length of the tuple.
        name: the argument's name, for the error message.
        allow_zero: accept 0 as a value (paddings, croppings, output paddings).

    Raises:
        ValueError: if `value` is neither, or holds a negative (or, without `allow_zero`, a zero) value.
    """
    if isinstance(value, int):
        result = (value,) * n
    else:
        try:
            result = tuple(value)
        except TypeError:
            raise ValueError(f"The `{name}` argument must be a tuple of {n} integers. Received: {name}={value!r}")
        if len(result) != n or not all(isinstance(v, (int, np.integer)) for v in result):
            raise ValueError(f"The `{name}` argument must be a tuple of {n} integers. Received: {name}={value!r}")
        result = tuple(int(v) for v in result)
    low = 0 if allow_zero else 1
    if any(v < low for v in result):
        raise ValueError(f"The `{name}` argument must be a tuple of {n} {'non-negative' if allow_zero else 'positive'}"
                         f" integers. Received: {name}={value!r}")
    return result


def normalize_padding(value, allowed=("valid", "same", "causal")):
    """`value` lower-cased, checked to be one of `allowed` (Keras: 'valid', 'same' or 'causal').

    Raises:
        ValueError: naming the accepted values and the one received.
    """
    padding = value.lower() if isinstance(value, str) else value
    if padding not in allowed:
        raise ValueError(f"The `padding` argument must be one of {', '.join(repr(a) for a in allowed)}. "
                         f"Received: padding={value!r}")
    return padding


def convert_data_format(data_format, ndim):
    """TensorFlow's layout string ('NWC', 'NCHW', ...) for a `data_format` and a tensor rank of 3, 4 or 5."""
    spatial = {3: "W", 4: "HW", 5: "DHW"}.get(ndim)
    if spatial is None:
        raise ValueError(f"Input rank not supported: expected 3, 4 or 5. Received: ndim={ndim}")
    if data_format == "channels_last":
        return "N" + spatial + "C"
    if data_format == "channels_first":
        return "NC" + spatial
    raise ValueError(f"Invalid data_format: expected 'channels_last' or 'channels_first'. "
                     f"Received: data_format={data_format!r}")


def check_output_positive(layer, input_shape, output_spatial):
    """tf-keras's error for a window larger than its (padded) input: an output size of 0 or less."""
    if any(n is not None and n <= 0 for n in output_spatial):
        raise ValueError(f"One of the dimensions in the output is <= 0 due to downsampling in {layer.name}. "
                         f"Consider increasing the input size. Received input shape {tuple(input_shape)} which "
                         f"would produce output shape with a zero or negative value in a dimension.")
    return output_spatial


def conv_output_length(input_length, filter_size, padding, stride, dilation=1):
    """Output length of a convolution or pooling window along one axis (None stays None).

    Args:
        input_length: the input length, or None.
        filter_size: the kernel (or pool) size.
        padding: 'same', 'valid', 'full' or 'causal'.
        stride: the stride.
        dilation: the dilation rate.
    """
    if input_length is None:
        return None
    effective = (filter_size - 1) * dilation + 1
    if padding in ("same", "causal"):
        out = input_length
    elif padding == "valid":
        out = input_length - effective + 1
    elif padding == "full":
        out = input_length + effective - 1
    else:
        raise ValueError(f"Invalid padding: expected 'same', 'valid', 'full' or 'causal'. Received: {padding!r}")
    return (out + stride - 1) // stride


def conv_input_length(output_length, filter_size, padding, stride):
    """The input length a convolution needs for `output_length` outputs (the inverse of conv_output_length)."""
    if output_length is None:
        return None
    pad = {"same": filter_size // 2, "valid": 0, "full": filter_size - 1}.get(padding)
    if pad is None:
        raise ValueError(f"Invalid padding: expected 'same', 'valid' or 'full'. Received: {padding!r}")
    return (output_length - 1) * stride - 2 * pad + filter_size


def deconv_output_length(input_length, filter_size, padding, output_padding=None, stride=0, dilation=1):
    """Output length of a transposed convolution along one axis, as tf-keras computes it (None stays None).

    Without `output_padding`: `n * s + max(k - s, 0)` ('valid'), `n * s` ('same'),
    `n * s - (s + k - 2)` ('full'); with it: `(n - 1) * s + k - 2 * pad + output_padding` with pad
    `k // 2`, 0 or `k - 1`. `k` is the dilated kernel size.
    """
    if input_length is None:
        return None
    effective = (filter_size - 1) * dilation + 1
    if padding not in ("same", "valid", "full"):
        raise ValueError(f"Invalid padding: expected 'same', 'valid' or 'full'. Received: {padding!r}")
    if output_padding is None:
        if padding == "valid":
            return input_length * stride + max(effective - stride, 0)
        if padding == "full":
            return input_length * stride - (stride + effective - 2)
        return input_length * stride
    pad = {"same": effective // 2, "valid": 0, "full": effective - 1}[padding]
    return (input_length - 1) * stride + effective - 2 * pad + output_padding


def deconv_length(dim_size, stride_size, kernel_size, padding, output_padding, dilation=1):
    """Keras 2.2's name and argument order for `deconv_output_length`."""
    return deconv_output_length(dim_size, kernel_size, padding, output_padding, stride_size, dilation)


def convert_kernel(kernel):
    """A Keras kernel with its spatial axes reversed: Theano's convolution <-> TensorFlow's correlation.

    Its own inverse. The last two axes (input and output channels) are kept.

    Raises:
        ValueError: if `kernel` is not 3-D, 4-D or 5-D.
    """
    kernel = np.asarray(kernel)
    if not 3 <= kernel.ndim <= 5:
        raise ValueError(f"Invalid kernel shape: expected a 3-D, 4-D or 5-D kernel (spatial axes, then input and "
                         f"output channels). Received: shape={kernel.shape}")
    flip = (slice(None, None, -1),) * (kernel.ndim - 2) + (slice(None), slice(None))
    return np.copy(kernel[flip])


# ------------------------------------------------------------------------- fitgen's layout helpers
def same_pads(length, kernel, stride, dilation=1):
    """TensorFlow's 'same' padding of one axis: (before, after), the extra one after."""
    total = max((math.ceil(length / stride) - 1) * stride + (kernel - 1) * dilation + 1 - length, 0)
    return total // 2, total - total // 2


class SamePadding:
    """How to apply TF 'same' padding to inputs of given spatial sizes, cached per size.

    Returns `(padding, pads)`: when every axis pads symmetrically, `padding` is the per-axis amount for the
    torch op itself and `pads` is empty; otherwise `padding` is 0 and `pads` is the F.pad argument.
    """

    def __init__(self, kernel_size, strides, dilation_rate=None):
        self.kernel_size = kernel_size
        self.strides = strides
        self.dilation_rate = dilation_rate or (1,) * len(kernel_size)
        self._cache = {}

    def __call__(self, spatial):
        pads = self._cache.get(spatial)
        if pads is None:
            pairs = [same_pads(n, k, s, d) for n, k, s, d in
                     zip(spatial, self.kernel_size, self.strides, self.dilation_rate)]
            if all(before == after for before, after in pairs):
                pads = (tuple(before for before, _ in pairs), ())
            else:
                pads = (0, tuple(p for pair in reversed(pairs) for p in pair))
            self._cache[spatial] = pads
        return pads


class ChannelsAxis:
    """Where the channels and spatial axes of a rank-`rank` layer's tensors are, for one data format.

    `to_torch(x)` gives torch's (N, C, *spatial) view of a Keras tensor (zero-copy: a permuted view of a
    channels_last tensor, which torch's kernels take as channels_last memory) and `from_torch(y)` the way
    back; for channels_first both are the identity.
    """

    def __init__(self, rank, data_format):
        self.rank = rank
        self.channels_first = data_format == "channels_first"
        self.axis = 1 if self.channels_first else rank + 1  # the channel axis, batch axis included
        self.spatial_axes = tuple(range(2, rank + 2)) if self.channels_first else tuple(range(1, rank + 1))
        self._to_first, self._to_last = TO_CHANNELS_FIRST.get(rank), TO_CHANNELS_LAST.get(rank)

    def to_torch(self, x):
        return x if self.channels_first else x.permute(self._to_first)

    def from_torch(self, y):
        return y if self.channels_first else y.permute(self._to_last)

    def spatial(self, shape):
        """The spatial sizes of a (batch-inclusive) shape."""
        return tuple(shape[a] for a in self.spatial_axes)

    def channels(self, shape):
        return shape[self.axis]

    def shape(self, batch, spatial, channels):
        """A batch-inclusive shape of this format from its parts."""
        spatial = tuple(spatial)
        return (batch, channels) + spatial if self.channels_first else (batch,) + spatial + (channels,)
