"""`SimpleRNN` and `SimpleRNNCell`: Keras 2's fully-connected recurrent layer on torch's fused Elman RNN."""
import torch

from fitgen import activations
from fitgen.layers.rnn.base import RNNBase
from fitgen.layers.rnn import fast_simple_rnn
from fitgen.layers.rnn.cells import GateCell
from fitgen.layers.rnn.gates import GateCore


class SimpleRNNMath(GateCore):
    """`h = activation(x W + h U + b)`."""

    _gates = 1
    _torch_order = (0,)
    _state_count = 1
    _has_recurrent_activation = False
    _has_implementation = False

    def _fused_ok(self):
        return self.activation is activations.tanh or self.activation is activations.relu

    def _fast_loop(self):
        return fast_simple_rnn.run if self._fused_ok() else None

    def _fused(self, x, states, training):
        params = [self.kernel, self.recurrent_kernel]
        if self.use_bias:
            params += [self.bias, self._zero_recurrent_bias]
        kernel = torch.rnn_tanh if self.activation is activations.tanh else torch.rnn_relu
        output, h = kernel(x, states[0].unsqueeze(0), params, self.use_bias, 1, 0.0, training, False, True)
        return output, [h[0]]

    def _step(self, projected, states, recurrent_masks):
        h = self.activation(projected + self._recurrent_projection(states[0], recurrent_masks))
        return h, [h]


class SimpleRNN(SimpleRNNMath, RNNBase):
    """Fully-connected RNN whose output is fed back as the next input: `h = activation(x W + h U + b)`.

    Weights (Keras order and shapes): `simple_rnn_cell/kernel` (input_dim, units),
    `simple_rnn_cell/recurrent_kernel` (units, units), `simple_rnn_cell/bias` (units,). With a tanh or relu
    activation and no recurrent dropout or mask, the layer runs torch's fused RNN kernel; with them, a loop with its
    backward pass written out (`fast_simple_rnn`).

    Args:
        units, activation (default 'tanh'), use_bias, kernel_initializer, recurrent_initializer,
        bias_initializer, kernel_regularizer, recurrent_regularizer, bias_regularizer, activity_regularizer,
        kernel_constraint, recurrent_constraint, bias_constraint, dropout, recurrent_dropout,
        return_sequences, return_state, go_backwards, stateful, unroll: as for `LSTM` (dropout: one mask per
        sequence, reused at every timestep).

    Call arguments: as for `LSTM`; `initial_state` is `[h]` and `return_state` gives `[output, h]`.
    """

    _weight_prefix = "simple_rnn_cell/"

    def __init__(self, units, activation="tanh", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, **kwargs):
        time_major = kwargs.pop("time_major", False)
        kwargs.pop("implementation", None)
        super().__init__(units, activation, None, use_bias, kernel_initializer, recurrent_initializer,
                         bias_initializer, kernel_regularizer, recurrent_regularizer, bias_regularizer,
                         kernel_constraint, recurrent_constraint, bias_constraint, dropout, recurrent_dropout,
                         return_sequences, return_state, go_backwards, stateful, unroll, time_major,
                         activity_regularizer=activity_regularizer, **kwargs)


class SimpleRNNCell(SimpleRNNMath, GateCell):
    """One SimpleRNN timestep, as `keras.layers.SimpleRNNCell`: `output, h = cell(inputs, h)`.

    Weights `kernel` (input_dim, units), `recurrent_kernel` (units, units), `bias` (units,).

    Args:
        units, activation, use_bias, kernel_initializer, recurrent_initializer, bias_initializer,
        kernel_regularizer, recurrent_regularizer, bias_regularizer, kernel_constraint, recurrent_constraint,
        bias_constraint, dropout, recurrent_dropout: as for `SimpleRNN`.
    """

    def __init__(self, units, activation="tanh", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, **kwargs):
        kwargs.pop("implementation", None)
        super().__init__(units, activation, None, use_bias, kernel_initializer, recurrent_initializer,
                         bias_initializer, kernel_regularizer, recurrent_regularizer, bias_regularizer,
                         kernel_constraint, recurrent_constraint, bias_constraint, dropout, recurrent_dropout,
                         **kwargs)
