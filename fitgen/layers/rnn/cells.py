"""The base of the built-in one-step cells (`SimpleRNNCell`, `LSTMCell`, `GRUCell`).

A cell computes one timestep: `output, new_states = cell(inputs, states)`. Its weights are the same
torch-layout tensors the SimpleRNN / LSTM / GRU layers hold (Keras's names, shapes and gate order at the
surface), so `RNN(LSTMCell(u))` runs on the LSTM layer's fast paths and matches `LSTM(u)` given the same
weights. Dropout masks are drawn on the first call after a reset and reused until the next reset, which the
RNN layer does at every call: one mask per sequence, as Keras.
"""
import torch

from fitgen import backend
from fitgen.backend.random_ops import dropout_mask
from fitgen.engine.base_layer import Layer
from fitgen.layers.rnn.gates import GateCore
from fitgen.layers.rnn.states import flatten_states


class GateCell(GateCore, Layer):
    """Base of SimpleRNNCell, LSTMCell and GRUCell (not public)."""

    def __init__(self, units, activation, recurrent_activation, use_bias, kernel_initializer,
                 recurrent_initializer, bias_initializer, kernel_regularizer, recurrent_regularizer,
                 bias_regularizer, kernel_constraint, recurrent_constraint, bias_constraint, dropout,
                 recurrent_dropout, **kwargs):
        implementation = kwargs.pop("implementation", 2)
        super().__init__(**kwargs)
        self._init_gates(units, activation, recurrent_activation, use_bias, kernel_initializer,
                         recurrent_initializer, bias_initializer, kernel_regularizer, recurrent_regularizer,
                         bias_regularizer, kernel_constraint, recurrent_constraint, bias_constraint, dropout,
                         recurrent_dropout, implementation)
        self.reset_dropout_mask()
        self.reset_recurrent_dropout_mask()

    def build(self, input_shape):
        if isinstance(input_shape, list) and input_shape and isinstance(input_shape[0], (list, tuple)):
            input_shape = input_shape[0]
        self._build_gates(tuple(input_shape)[-1])
        self.built = True

    # ------------------------------------------------------------------------------------------ dropout
    def reset_dropout_mask(self):
        """Forgets the input dropout masks (the RNN layer calls this before every sequence)."""
        self._dropout_mask = None

    def reset_recurrent_dropout_mask(self):
        """Forgets the recurrent dropout masks."""
        self._recurrent_dropout_mask = None

    def get_dropout_mask_for_cell(self, inputs, training, count=1):
        """The input dropout mask(s) (a list when count > 1), drawn once and reused until reset; None without
        dropout or outside training."""
        if not (training and 0.0 < self.dropout < 1.0):
            return None
        if self._dropout_mask is None:
            self._dropout_mask = _masks(inputs, self.dropout, count)
        return self._dropout_mask

    def get_recurrent_dropout_mask_for_cell(self, inputs, training, count=1):
        """The recurrent dropout mask(s), as `get_dropout_mask_for_cell`."""
        if not (training and 0.0 < self.recurrent_dropout < 1.0):
            return None
        if self._recurrent_dropout_mask is None:
            self._recurrent_dropout_mask = _masks(inputs, self.recurrent_dropout, count)
        return self._recurrent_dropout_mask

    # --------------------------------------------------------------------------------------------- call
    def call(self, inputs, states, training=None):
        nested = isinstance(states, (list, tuple))
        states = flatten_states(states)
        training = self.training if training is None else bool(training)
        gates = self._gates
        input_masks = _as_list(self.get_dropout_mask_for_cell(inputs, training, count=gates))
        if input_masks is not None and self.implementation != 1:
            input_masks = input_masks[:1]
        recurrent_masks = _as_list(self.get_recurrent_dropout_mask_for_cell(states[0], training, count=gates))
        if not inputs.is_floating_point():
            inputs = inputs.to(self.kernel.dtype)
        output, new_states = self._step(self._input_projection(inputs, input_masks), states, recurrent_masks)
        if self._state_count == 1 and not nested:
            return output, new_states[0]
        return output, new_states

    def get_initial_state(self, inputs=None, batch_size=None, dtype=None):
        """Zero states for `batch_size` samples (or as many as `inputs` has), shaped as `state_size`."""
        if inputs is not None:
            batch_size, dtype = inputs.shape[0], inputs.dtype
        dtype = dtype if isinstance(dtype, torch.dtype) else backend.torch_dtype(dtype or self.dtype)
        device = self.kernel.device if self.built else None
        zeros = [torch.zeros(batch_size, self.units, dtype=dtype, device=device) for _ in range(self._state_count)]
        return zeros if self._state_count > 1 else zeros[0]

    def compute_output_shape(self, input_shape):
        return (tuple(input_shape)[0], self.units)

    # ------------------------------------------------------------------------------------------- config
    def get_config(self):
        config = super().get_config()
        config.update(self._gate_config(activity_regularizer=False))
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _masks(inputs, rate, count):
    dtype = inputs.dtype if inputs.is_floating_point() else torch.float32
    masks = [dropout_mask(inputs.shape, rate, dtype, inputs.device) for _ in range(count)]
    return masks if count > 1 else masks[0]


def _as_list(masks):
    if masks is None:
        return None
    return list(masks) if isinstance(masks, (list, tuple)) else [masks]
