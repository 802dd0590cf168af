"""`ConvLSTM2D` and `ConvLSTM2DCell`: an LSTM whose input and recurrent transformations are 2-D convolutions.

Computed in torch's NCHW layout with `torch.nn.functional.conv2d` (channels_first data needs no copy;
channels_last data is permuted once per call). The input convolution of every timestep runs as one
convolution over (batch * timesteps) images outside the loop; the loop only runs the recurrent convolution
(the four gates' kernels at once; under recurrent dropout, one grouped convolution over the four masked
states) and the gate arithmetic. Kernels are stored as torch's (out, in, kh, kw) and shown to Keras as
(kh, kw, in, 4 * filters), gate blocks i, f, c, o.
"""
import torch
import torch.nn.functional as F

from fitgen import activations, backend, constraints, initializers, regularizers
from fitgen.backend.random_ops import dropout_mask
from fitgen.engine.base_layer import Layer, PermutedLayout
from fitgen.layers.rnn.gates import check_units, set_recurrent_options
from fitgen.layers.rnn.conv_rnn import ConvRNN2D
from fitgen.layers.rnn.states import keep_mask
from fitgen.utils import conv_utils

_KERNEL_LAYOUT = (3, 2, 0, 1)  # Keras (kh, kw, in, out) -> torch (out, in, kh, kw)


class ConvLSTMMath:
    """Mixin: the ConvLSTM's arguments, weights and per-step equations (NCHW tensors)."""

    _weight_prefix = ""

    def _init_conv(self, filters, kernel_size, strides, padding, data_format, dilation_rate, activation,
                   recurrent_activation, use_bias, kernel_initializer, recurrent_initializer, bias_initializer,
                   unit_forget_bias, kernel_regularizer, recurrent_regularizer, bias_regularizer, kernel_constraint,
                   recurrent_constraint, bias_constraint, dropout, recurrent_dropout):
        self.filters = check_units(filters, "filters")
        self.kernel_size = conv_utils.normalize_tuple(kernel_size, 2, "kernel_size")
        self.strides = conv_utils.normalize_tuple(strides, 2, "strides")
        self.dilation_rate = conv_utils.normalize_tuple(dilation_rate, 2, "dilation_rate")
        self.padding = str(padding).lower()
        if self.padding not in ("valid", "same"):
            raise ValueError(f"The `padding` argument must be 'valid' or 'same'. Received: padding={padding!r}")
        data_format = data_format or backend.image_data_format()
        if data_format not in ("channels_last", "channels_first"):
            raise ValueError("The `data_format` argument must be 'channels_last' or 'channels_first'. "
                             f"Received: data_format={data_format!r}")
        self.data_format = data_format
        self.unit_forget_bias = bool(unit_forget_bias)
        set_recurrent_options(self, activation, recurrent_activation, use_bias, kernel_initializer,
                              recurrent_initializer, bias_initializer, kernel_regularizer, recurrent_regularizer,
                              bias_regularizer, kernel_constraint, recurrent_constraint, bias_constraint, dropout,
                              recurrent_dropout)

    def _build_conv(self, channels):
        if channels is None:
            raise ValueError("The channel dimension of the inputs should be defined. Found None.")
        kh, kw = self.kernel_size
        f = self.filters
        self.kernel = self.add_weight(self._weight_prefix + "kernel", (kh, kw, int(channels), 4 * f),
                                      initializer=self.kernel_initializer, regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint, layout=PermutedLayout(_KERNEL_LAYOUT))
        self.recurrent_kernel = self.add_weight(
            self._weight_prefix + "recurrent_kernel", (kh, kw, f, 4 * f), initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer, constraint=self.recurrent_constraint,
            layout=PermutedLayout(_KERNEL_LAYOUT))
        if self.use_bias:
            self.bias = self.add_weight(self._weight_prefix + "bias", (4 * f,), initializer=self._bias_init(),
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        else:
            self.bias = None

    def _bias_init(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        base, f = self.bias_initializer, self.filters

        def init(shape, dtype=None):
            torch_dtype = backend.torch_dtype(dtype)
            return torch.cat([torch.as_tensor(base((f,), dtype=dtype), dtype=torch_dtype),
                              torch.ones(f, dtype=torch_dtype),
                              torch.as_tensor(base((2 * f,), dtype=dtype), dtype=torch_dtype)])
        return init

    @property
    def state_size(self):
        return (self.filters, self.filters)

    # ------------------------------------------------------------------------------------------ layouts
    def _to_nchw(self, tensor):
        """(..., H, W, C) -> (..., C, H, W) for channels_last; unchanged for channels_first."""
        if self.data_format == "channels_first":
            return tensor
        return tensor.movedim(-1, -3)

    def _from_nchw(self, tensor):
        if self.data_format == "channels_first":
            return tensor
        return tensor.movedim(-3, -1)

    # --------------------------------------------------------------------------------------------- math
    def _input_conv(self, images, kernel, bias):
        """Keras's input convolution of NCHW images (padding, strides, dilation)."""
        if self.padding == "same":
            (top, bottom), (left, right) = (
                conv_utils.same_pads(images.shape[-2 + a], self.kernel_size[a], self.strides[a], self.dilation_rate[a])
                for a in range(2))
            if top or bottom or left or right:
                images = F.pad(images, (left, right, top, bottom))
        return F.conv2d(images, kernel, bias, self.strides, 0, self.dilation_rate)

    def _input_projection(self, images, input_masks):
        """All four gates' input convolutions (M, 4F, H', W'); with dropout, gate k sees mask k."""
        if input_masks is None:
            return self._input_conv(images, self.kernel, self.bias)
        f = self.filters
        return torch.cat([self._input_conv(images * input_masks[k], self.kernel[k * f:(k + 1) * f],
                                           None if self.bias is None else self.bias[k * f:(k + 1) * f])
                          for k in range(4)], dim=1)

    def _recurrent_conv(self, h, recurrent_masks):
        groups = 1
        if recurrent_masks is not None:
            # Gate k convolves the state through mask k: one grouped convolution over the four masked states.
            h, groups = torch.cat([h * m for m in recurrent_masks], dim=1), 4
        # Stride 1, "same": odd kernels pad symmetrically; even ones get the extra pixel after, as TensorFlow.
        (top, bottom), (left, right) = (((k - 1) // 2, k // 2) for k in self.kernel_size)
        if (top, left) != (bottom, right):
            return F.conv2d(F.pad(h, (left, right, top, bottom)), self.recurrent_kernel, None, 1, 0, 1, groups)
        return F.conv2d(h, self.recurrent_kernel, None, 1, (top, left), 1, groups)

    def _step(self, projected, states, recurrent_masks):
        h, c = states
        z = projected + self._recurrent_conv(h, recurrent_masks)
        i, f, g, o = torch.chunk(z, 4, dim=1)
        gate = self.recurrent_activation
        c = gate(f) * c + gate(i) * self.activation(g)
        h = gate(o) * self.activation(c)
        return h, [h, c]

    def _dropout_masks(self, like, rate, training):
        if not (training and 0.0 < rate < 1.0):
            return None
        return [dropout_mask(like.shape, rate, like.dtype, like.device) for _ in range(4)]

    def _output_spatial(self, spatial):
        return tuple(conv_utils.conv_output_length(spatial[a], self.kernel_size[a], self.padding, self.strides[a],
                                        self.dilation_rate[a]) for a in range(2))

    def _conv_config(self, activity_regularizer=False):
        config = {"filters": self.filters, "kernel_size": self.kernel_size, "strides": self.strides,
                  "padding": self.padding, "data_format": self.data_format, "dilation_rate": self.dilation_rate,
                  "activation": activations.serialize(self.activation),
                  "recurrent_activation": activations.serialize(self.recurrent_activation),
                  "use_bias": self.use_bias,
                  "kernel_initializer": initializers.serialize(self.kernel_initializer),
                  "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
                  "bias_initializer": initializers.serialize(self.bias_initializer),
                  "unit_forget_bias": self.unit_forget_bias,
                  "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                  "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
                  "bias_regularizer": regularizers.serialize(self.bias_regularizer)}
        if activity_regularizer is not False:
            config["activity_regularizer"] = regularizers.serialize(activity_regularizer)
        config.update({"kernel_constraint": constraints.serialize(self.kernel_constraint),
                       "recurrent_constraint": constraints.serialize(self.recurrent_constraint),
                       "bias_constraint": constraints.serialize(self.bias_constraint),
                       "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout})
        return config


_CONV_ARGS = dict(strides=1, padding="valid", data_format=None, dilation_rate=1, activation="tanh",
                  recurrent_activation="hard_sigmoid", use_bias=True, kernel_initializer="glorot_uniform",
                  recurrent_initializer="orthogonal", bias_initializer="zeros", unit_forget_bias=True,
                  kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                  recurrent_constraint=None, bias_constraint=None, dropout=0.0, recurrent_dropout=0.0)


def _split_conv_args(kwargs):
    conv = {k: kwargs.pop(k, default) for k, default in _CONV_ARGS.items()}
    return conv, kwargs


class ConvLSTM2D(ConvLSTMMath, ConvRNN2D):
    """Convolutional LSTM, as `keras.layers.ConvLSTM2D` (tf-keras 2.21).

    Inputs (batch, time, rows, cols, channels) with `data_format='channels_last'` (default: the image data
    format of `keras.json`), (batch, time, channels, rows, cols) with 'channels_first'. Outputs (batch, [time,]
    new_rows, new_cols, filters) (channels_last). Weights `kernel` (kh, kw, channels, 4*filters),
    `recurrent_kernel` (kh, kw, filters, 4*filters), `bias` (4*filters,), gate blocks i, f, c, o.

    Args:
        filters: number of output filters.
        kernel_size: int or (kh, kw).
        strides, padding ('valid' or 'same'), data_format, dilation_rate: of the input convolution (the
            recurrent convolution is always stride 1, 'same').
        activation (default 'tanh'), recurrent_activation (default 'hard_sigmoid'), use_bias,
        kernel_initializer, recurrent_initializer, bias_initializer, unit_forget_bias, kernel_regularizer,
        recurrent_regularizer, bias_regularizer, activity_regularizer, kernel_constraint,
        recurrent_constraint, bias_constraint: as for `LSTM`.
        dropout, recurrent_dropout: fractions dropped (one mask per gate and sequence).
        return_sequences, return_state, go_backwards, stateful: as for `RNN` (states are
            (batch, new_rows, new_cols, filters) images).
    """

    def __init__(self, filters, kernel_size, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, **kwargs):
        if unroll:
            raise TypeError(f"Unrolling is not possible with convolutional RNNs. Received: unroll={unroll}")
        conv, kwargs = _split_conv_args(kwargs)
        activity_regularizer = kwargs.pop("activity_regularizer", None)
        for ignored in ("cell", "time_major"):
            kwargs.pop(ignored, None)
        Layer.__init__(self, activity_regularizer=activity_regularizer, **kwargs)
        self._init_conv(filters, kernel_size, **conv)
        self._init_rnn(return_sequences, return_state, go_backwards, stateful, False, False)
        self._spatial = (None, None)

    @property
    def cell(self):
        return self

    _input_ndim = 5

    def _build_cell(self, step_shape, constants_shapes):
        channels_first = self.data_format == "channels_first"
        self._spatial = self._output_spatial(step_shape[2:4] if channels_first else step_shape[1:3])
        self._build_conv(step_shape[1] if channels_first else step_shape[-1])

    def _state_shapes(self):
        rows, cols = self._spatial
        shape = (self.filters, rows, cols) if self.data_format == "channels_first" else (rows, cols, self.filters)
        return [shape, shape]

    def _output_dims(self):
        return self._state_shapes()[0]

    def _initial_states(self, x, initial_state):
        self._spatial = self._output_spatial(tuple(self._to_nchw(x[:, 0]).shape[-2:]))
        return super()._initial_states(x, initial_state)

    def _run_sequence(self, x, states, mask, training, constants):
        if constants:
            raise ValueError("ConvLSTM2D does not take `constants`.")
        n, steps = x.shape[:2]
        images = self._to_nchw(x)  # (N, T, C, H, W)
        h, c = (self._to_nchw(s) for s in states)
        input_masks = self._dropout_masks(images[:, 0], self.dropout, training)
        if input_masks is not None:
            input_masks = [m.repeat_interleave(steps, 0) for m in input_masks]  # (N*T, C, H, W)
        projected = self._input_projection(images.flatten(0, 1), input_masks)
        projected = projected.view(n, steps, *projected.shape[1:])
        recurrent_masks = self._dropout_masks(h, self.recurrent_dropout, training)
        outputs, previous = [], None
        for t in range(steps):
            output, (h_new, c_new) = self._step(projected[:, t], [h, c], recurrent_masks)
            if mask is not None:
                keep = keep_mask(mask[:, t], output)
                fallback = torch.zeros_like(output) if previous is None or self.zero_output_for_mask else previous
                output = torch.where(keep, output, fallback)
                h_new, c_new = torch.where(keep, h_new, h), torch.where(keep, c_new, c)
            h, c, previous = h_new, c_new, output
            if self.return_sequences:
                outputs.append(output)
        sequence = self._from_nchw(torch.stack(outputs, dim=1)) if self.return_sequences else None
        return sequence, self._from_nchw(previous), [self._from_nchw(h), self._from_nchw(c)]

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape[0] if isinstance(input_shape, list) else input_shape)
        channels_first = self.data_format == "channels_first"
        rows, cols = self._output_spatial(shape[3:5] if channels_first else shape[2:4])
        image = (self.filters, rows, cols) if channels_first else (rows, cols, self.filters)
        output = (shape[0], shape[1]) + image if self.return_sequences else (shape[0],) + image
        if self.return_state:
            return [output, (shape[0],) + image, (shape[0],) + image]
        return output

    def get_config(self):
        config = Layer.get_config(self)
        config.update(self._rnn_config())
        config.update(self._conv_config(activity_regularizer=self.activity_regularizer))
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config.pop("cell", None)
        return cls(**config)


class ConvLSTM2DCell(ConvLSTMMath, Layer):
    """One ConvLSTM timestep, as Keras 2.2.4's `keras.layers.ConvLSTM2DCell`:
    `output, [h, c] = cell(inputs, [h, c])` on images in the cell's `data_format`.

    Args: as `ConvLSTM2D` without the sequence arguments.
    """

    def __init__(self, filters, kernel_size, **kwargs):
        conv, kwargs = _split_conv_args(kwargs)
        super().__init__(**kwargs)
        self._init_conv(filters, kernel_size, **conv)
        self._masks = (None, None)

    def build(self, input_shape):
        if isinstance(input_shape, list) and input_shape and isinstance(input_shape[0], (list, tuple)):
            input_shape = input_shape[0]
        shape = tuple(input_shape)
        self._build_conv(shape[1] if self.data_format == "channels_first" else shape[-1])
        self.built = True

    def reset_dropout_mask(self):
        self._masks = (None, self._masks[1])

    def reset_recurrent_dropout_mask(self):
        self._masks = (self._masks[0], None)

    def call(self, inputs, states, training=None):
        training = self.training if training is None else bool(training)
        images = self._to_nchw(inputs)
        h, c = (self._to_nchw(s) for s in states)
        input_masks, recurrent_masks = self._masks
        if input_masks is None:
            input_masks = self._dropout_masks(images, self.dropout, training)
        if recurrent_masks is None:
            recurrent_masks = self._dropout_masks(h, self.recurrent_dropout, training)
        self._masks = (input_masks, recurrent_masks)
        output, (h, c) = self._step(self._input_projection(images, input_masks), [h, c], recurrent_masks)
        return self._from_nchw(output), [self._from_nchw(h), self._from_nchw(c)]

    def get_config(self):
        config = super().get_config()
        config.update(self._conv_config())
        return config
