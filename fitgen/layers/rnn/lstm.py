"""`LSTM` and `LSTMCell`: Keras 2's long short-term memory on torch's fused LSTM kernel."""
import torch

from fitgen import backend
from fitgen.layers.rnn import fast_lstm
from fitgen.layers.rnn.base import RNNBase
from fitgen.layers.rnn.cells import GateCell
from fitgen.layers.rnn.gates import GateCore


class LSTMMath(GateCore):
    """The LSTM's weights and equations (gate blocks i, f, c, o in both Keras's and torch's order)."""

    _gates = 4
    _torch_order = (0, 1, 2, 3)  # torch's i, f, g, o is Keras's i, f, c, o
    _state_count = 2

    def _bias_initializer(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        base, units = self.bias_initializer, self.units

        def init(shape, dtype=None):
            torch_dtype = backend.torch_dtype(dtype)
            blocks = [torch.as_tensor(base((units,), dtype=dtype), dtype=torch_dtype),
                      torch.ones(units, dtype=torch_dtype),
                      torch.as_tensor(base((2 * units,), dtype=dtype), dtype=torch_dtype)]
            return torch.cat(blocks)
        return init

    def _fused(self, x, states, training):
        h0, c0 = states
        params = [self.kernel, self.recurrent_kernel]
        if self.use_bias:
            params += [self.bias, self._zero_recurrent_bias]
        output, h, c = torch.lstm(x, (h0.unsqueeze(0), c0.unsqueeze(0)), params, self.use_bias, 1, 0.0,
                                  training, False, True)
        return output, [h[0], c[0]]

    def _fast_loop(self):
        if self._fused_ok():
            return fast_lstm.run
        return None

    def _step(self, projected, states, recurrent_masks):
        h, c = states
        z = projected + self._recurrent_projection(h, recurrent_masks)
        i, f, g, o = torch.chunk(z, 4, dim=-1)
        gate = self.recurrent_activation
        c = gate(f) * c + gate(i) * self.activation(g)
        h = gate(o) * self.activation(c)
        return h, [h, c]

    def _initializer_extras(self):
        return {"unit_forget_bias": self.unit_forget_bias}


class LSTM(LSTMMath, RNNBase):
    """Long Short-Term Memory layer (Hochreiter 1997), as `keras.layers.LSTM` of tf-keras 2.21.

    Weights (Keras order and shapes): `lstm_cell/kernel` (input_dim, 4*units), `lstm_cell/recurrent_kernel`
    (units, 4*units), `lstm_cell/bias` (4*units,), gate blocks i, f, c, o. With the default tanh / sigmoid
    activations and no recurrent dropout or mask, the layer runs torch's fused LSTM kernel; under recurrent
    dropout or a mask, a hand-differentiated loop (one input matmul for all timesteps, then only the
    recurrent products in the loop).

    Args:
        units: dimensionality of the output space.
        activation: activation of the cell candidate and output (default 'tanh').
        recurrent_activation: activation of the gates (default 'sigmoid').
        use_bias: whether the layer uses a bias vector.
        kernel_initializer, recurrent_initializer, bias_initializer: initializers of the weights.
        unit_forget_bias: if True, add 1 to the forget-gate bias at initialisation.
        kernel_regularizer, recurrent_regularizer, bias_regularizer, activity_regularizer: regularizers.
        kernel_constraint, recurrent_constraint, bias_constraint: constraints.
        dropout: fraction of the inputs to drop. As tf-keras: with the default activations, a bias, no
            recurrent dropout and `unroll=False`, inputs are dropped elementwise over the whole sequence;
            otherwise one mask per gate and sequence, reused at every timestep.
        recurrent_dropout: fraction of the recurrent state to drop (one mask per gate and sequence; forces
            `implementation=1`).
        return_sequences: return the whole output sequence instead of the last output.
        return_state: also return the final states: `[output, h, c]`.
        go_backwards: process the sequence backwards (the returned sequence is in reversed order).
        stateful: keep the last states of a batch as the initial states of the next one.
        time_major: inputs and outputs are (timesteps, batch, features).
        unroll: accepted for compatibility (see `RNN`).

    Call arguments: `inputs` (batch, timesteps, features); `mask` (batch, timesteps) booleans (or the inputs'
    Keras mask): masked steps keep the previous states and output; `training`; `initial_state`: `[h, c]`.
    """

    _weight_prefix = "lstm_cell/"
    _cudnn_style_dropout = True

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", unit_forget_bias=True, kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, recurrent_constraint=None, bias_constraint=None, dropout=0.0,
                 recurrent_dropout=0.0, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, time_major=False, unroll=False, **kwargs):
        super().__init__(units, activation, recurrent_activation, use_bias, kernel_initializer,
                         recurrent_initializer, bias_initializer, kernel_regularizer, recurrent_regularizer,
                         bias_regularizer, kernel_constraint, recurrent_constraint, bias_constraint, dropout,
                         recurrent_dropout, return_sequences, return_state, go_backwards, stateful, unroll,
                         time_major, activity_regularizer=activity_regularizer, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)


class LSTMCell(LSTMMath, GateCell):
    """One LSTM timestep, as `keras.layers.LSTMCell` (for `RNN(cell)`, `StackedRNNCells`, custom loops).

    `output, [h, c] = cell(inputs, [h, c])`. Weights `kernel` (input_dim, 4*units), `recurrent_kernel`
    (units, 4*units), `bias` (4*units,), gate blocks i, f, c, o (named `rnn/lstm_cell/kernel` inside an RNN).

    Args:
        units, activation, recurrent_activation, use_bias, kernel_initializer, recurrent_initializer,
        bias_initializer, unit_forget_bias, kernel_regularizer, recurrent_regularizer, bias_regularizer,
        kernel_constraint, recurrent_constraint, bias_constraint, dropout, recurrent_dropout: as for `LSTM`
        (dropout: one mask per gate (implementation 1) or one in all, drawn once per sequence).
        implementation: 1 (one dropout mask per gate) or 2 (default; 1 under recurrent dropout).
    """

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", unit_forget_bias=True, kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, **kwargs):
        super().__init__(units, activation, recurrent_activation, use_bias, kernel_initializer,
                         recurrent_initializer, bias_initializer, kernel_regularizer, recurrent_regularizer,
                         bias_regularizer, kernel_constraint, recurrent_constraint, bias_constraint, dropout,
                         recurrent_dropout, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)

