"""`ConvRNN2D`: a recurrent layer over image sequences, driving a convolutional cell (Keras 2.2.4's
`keras.layers.ConvRNN2D`, the base class of ConvLSTM2D).

The cell is Keras's convolutional cell contract: `call(inputs, states, training=None)` on one timestep's images,
returning `(output, new_states)`, a `state_size` of channel counts (an int or a list, one per state), and the
input convolution's geometry as attributes (`kernel_size`, `strides`, `padding`, `dilation_rate`, `data_format`)
from which the states' image size follows: zeros of that size start every sequence, as in Keras.
"""
from fitgen.layers.rnn.rnn import RNN
from fitgen.utils import conv_utils


class ConvRNN2D(RNN):
    """Runs a convolutional recurrent cell over `(batch, time, rows, cols, channels)` inputs
    (`(batch, time, channels, rows, cols)` when the cell's `data_format` is 'channels_first').

    Args:
        cell: a convolutional cell, e.g. `ConvLSTM2DCell(filters, kernel_size)` or a user cell with the same
            contract (see the module docstring).
        return_sequences, return_state, go_backwards, stateful: as for `RNN`; outputs and states are images of
            the cell's output size, `(batch, [time,] new_rows, new_cols, channels)`.
        unroll: must be False (Keras cannot unroll convolutional RNNs either).

    Example:

    >>> from fitgen.layers import ConvLSTM2DCell
    >>> layer = ConvRNN2D(ConvLSTM2DCell(4, 3, padding="same"), return_sequences=True)
    >>> layer.compute_output_shape((None, 5, 8, 8, 2))
    (None, 5, 8, 8, 4)
    """

    _input_ndim = 5

    def __init__(self, cell, return_sequences=False, return_state=False, go_backwards=False, stateful=False,
                 unroll=False, **kwargs):
        if unroll:
            raise TypeError(f"Unrolling is not possible with convolutional RNNs. Received: unroll={unroll!r}")
        if isinstance(cell, (list, tuple)):
            raise TypeError("ConvRNN2D takes one convolutional cell; stacking cells is not possible, as in Keras. "
                            f"Received: cell={cell!r}")
        kwargs.pop("time_major", None)
        super().__init__(cell, return_sequences, return_state, go_backwards, stateful, **kwargs)
        self._spatial = (None, None)

    # ---- the cell's geometry -----------------------------------------------------------------------------------
    def _channels_first(self):
        return getattr(self.cell, "data_format", "channels_last") == "channels_first"

    def _output_spatial(self, spatial):
        cell = self.cell
        kernel = conv_utils.normalize_tuple(getattr(cell, "kernel_size", 1), 2, "kernel_size")
        strides = conv_utils.normalize_tuple(getattr(cell, "strides", 1), 2, "strides")
        dilation = conv_utils.normalize_tuple(getattr(cell, "dilation_rate", 1), 2, "dilation_rate")
        padding = getattr(cell, "padding", "valid")
        return tuple(conv_utils.conv_output_length(spatial[a], kernel[a], padding, strides[a], dilation[a])
                     for a in range(2))

    def _image(self, channels, spatial):
        rows, cols = spatial
        return (channels, rows, cols) if self._channels_first() else (rows, cols, channels)

    def _input_spatial(self, image_shape):
        """(rows, cols) of one timestep's image shape, batch axis first."""
        return tuple(image_shape[2:4]) if self._channels_first() else tuple(image_shape[1:3])

    # ---- RNN hooks ---------------------------------------------------------------------------------------------
    def _build_cell(self, step_shape, constants_shapes):
        self._spatial = self._output_spatial(self._input_spatial(step_shape))
        super()._build_cell(step_shape, constants_shapes)

    def _state_shapes(self):
        sizes = self.state_size
        sizes = list(sizes) if isinstance(sizes, (list, tuple)) else [sizes]
        return [self._image(int(size), self._spatial) for size in sizes]

    def _output_dims(self):
        return self._state_shapes()[0]

    def _initial_states(self, x, initial_state):
        self._spatial = self._output_spatial(self._input_spatial(tuple(x[:, 0].shape)))
        return super()._initial_states(x, initial_state)

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape[0] if isinstance(input_shape, list) else input_shape)
        self._spatial = self._output_spatial(self._input_spatial((shape[0],) + shape[2:]))
        return super().compute_output_shape(shape)
