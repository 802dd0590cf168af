"""Transposed convolutions ("deconvolutions"): Conv1DTranspose, Conv2DTranspose, Conv3DTranspose.

Output size per axis, as tf-keras: `n * s + max(k - s, 0)` ('valid') or `n * s` ('same') without
`output_padding`; with it, `(n - 1) * s + k - 2 * pad + output_padding` (pad = k // 2 for 'same', 0 for
'valid'); `k` is the dilated kernel size. tf-keras's result is the full transposed convolution cropped by
the forward convolution's pads; torch crops `padding` on both sides and extends the end by
`output_padding`, so each axis maps to torch's arguments once, at construction, plus an end crop where
tf-keras crops more at the end than at the start.
"""
import torch.nn.functional as F

from fitgen.layers.convolutional.base_conv import Conv, Conv1D, Conv2D, Conv3D, kernel_layout
from fitgen.utils.conv_utils import deconv_output_length, normalize_tuple

_CONV_TRANSPOSE = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


class ConvTranspose(Conv):
    """Base of the transposed convolutions; see `Conv2DTranspose` for the arguments."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None, data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, groups=1, **kwargs):
        if groups not in (1, None):
            raise ValueError(f"{type(self).__name__} does not support groups; expected groups=1, received "
                             f"groups={groups}.")
        if isinstance(padding, str) and padding.lower() == "causal":
            raise ValueError(f"{type(self).__name__} does not support causal padding. Expected 'valid' or 'same'. "
                             f"Received: padding={padding!r}")
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate, 1, activation,
                         use_bias, kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
                         activity_regularizer, kernel_constraint, bias_constraint, **kwargs)
        self.output_padding = None
        if output_padding is not None:
            self.output_padding = normalize_tuple(output_padding, self.rank, "output_padding", allow_zero=True)
            for stride, pad in zip(self.strides, self.output_padding):
                if pad >= stride:
                    raise ValueError(f"Strides must be greater than output padding. Received strides={self.strides}, "
                                     f"output_padding={self.output_padding}.")
        self._setup_padding()

    def _setup_padding(self):
        self._torch_padding, self._torch_output_padding, self._crop_end = [], [], []
        for i, (k, s, d) in enumerate(zip(self.kernel_size, self.strides, self.dilation_rate)):
            effective = (k - 1) * d + 1
            user_pad = None if getattr(self, "output_padding", None) is None else self.output_padding[i]
            n = 8  # any input length: the pads do not depend on it
            out = deconv_output_length(n, k, self.padding, user_pad, s, d)
            full = (n - 1) * s + effective
            before = 0 if self.padding == "valid" else max(full - out, 0) // 2
            extra = out - (full - 2 * before)
            self._torch_padding.append(before)
            self._torch_output_padding.append(max(extra, 0))
            self._crop_end.append(max(-extra, 0))
        self._torch_padding = tuple(self._torch_padding)
        self._torch_output_padding = tuple(self._torch_output_padding)
        self._crop = any(self._crop_end)

    def build(self, input_shape):
        channels = self._input_channels(input_shape)
        self.kernel = self.add_weight("kernel", self.kernel_size + (self.filters, channels),
                                      initializer=self.kernel_initializer, regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint, layout=kernel_layout(self.rank))
        self._build_bias(self.filters)

    def call(self, inputs):
        x = _CONV_TRANSPOSE[self.rank](self._axes.to_torch(inputs), self.kernel, self.bias, self.strides,
                                       self._torch_padding, self._torch_output_padding, 1, self.dilation_rate)
        if self._crop:
            x = x[(slice(None), slice(None)) + tuple(slice(0, n - c) for n, c in zip(x.shape[2:], self._crop_end))]
        return self.activation(self._axes.from_torch(x))

    def _output_spatial(self, input_shape):
        pads = self.output_padding or (None,) * self.rank
        return tuple(deconv_output_length(n, k, self.padding, p, s, d) for n, k, p, s, d in
                     zip(self._axes.spatial(input_shape), self.kernel_size, pads, self.strides, self.dilation_rate))

    def get_config(self):
        config = super().get_config()
        config["output_padding"] = self.output_padding
        return config


class Conv1DTranspose(ConvTranspose, Conv1D):
    """Transposed 1-D convolution over `(batch, steps, channels)`; see `Conv2DTranspose`.

    Weights: kernel `(k, filters, in)`, bias `(filters,)`.
    """

    rank = 1


class Conv2DTranspose(ConvTranspose, Conv2D):
    """Transposed 2-D convolution ("deconvolution"), with tf-keras's output shape and padding.

    Args:
        filters: number of output channels.
        kernel_size, strides, dilation_rate: int or tuple of 2 ints.
        padding: 'valid' or 'same'.
        output_padding: None, or int / tuple of 2 ints, each smaller than the stride.
        data_format: 'channels_last', 'channels_first', or None for `fitgen.backend.image_data_format()`.
        Others as `Conv2D`. Weights: kernel `(kh, kw, filters, in)`, bias `(filters,)`.
    """

    rank = 2


class Conv3DTranspose(ConvTranspose, Conv3D):
    """Transposed 3-D convolution over volumes (`(batch, d1, d2, d3, channels)` or channels_first), arguments
    as `Conv2DTranspose` with 3-tuples. Weights: kernel `(k1, k2, k3, filters, in)`, bias `(filters,)`."""

    rank = 3
