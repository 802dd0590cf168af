"""What SimpleRNN, LSTM and GRU share: an `RNN` that is its own cell, with the weights in torch's fused-RNN
layout.

Weights are stored as torch's fused RNN kernels want them and shown to Keras in Keras's layout by a
`GateLayout` (see `gates`). The common case (tanh / sigmoid activations, no recurrent dropout, no mask) runs
torch's fused kernel directly on those tensors; the LSTM and GRU under recurrent dropout or a mask run a
hand-differentiated loop; anything else runs a step loop on the same tensors with Keras's cell equations
(see `sequence`).
"""
from fitgen.engine.base_layer import Layer
from fitgen.layers.rnn.gates import GateCore, GateLayout, check_rate  # noqa: F401  (GateLayout: public name)
from fitgen.layers.rnn.rnn import RNN
from fitgen.layers.rnn.sequence import run_gate_sequence


class RNNBase(GateCore, RNN):
    """Base of the built-in recurrent layers (not public: use SimpleRNN, LSTM or GRU).

    Subclasses mix in the computation (`LSTMMath`, ...) that sets `_gates`, `_torch_order`, `_state_count`
    and implements `_fused` (torch's kernel) and `_step` (one timestep of Keras's cell equations).
    """

    _weight_prefix = "rnn_cell/"
    # tf-keras's LSTM/GRU layers that could run on cuDNN drop inputs elementwise over the whole sequence.
    _cudnn_style_dropout = False

    def __init__(self, units, activation, recurrent_activation, use_bias, kernel_initializer,
                 recurrent_initializer, bias_initializer, kernel_regularizer, recurrent_regularizer,
                 bias_regularizer, kernel_constraint, recurrent_constraint, bias_constraint, dropout,
                 recurrent_dropout, return_sequences, return_state, go_backwards, stateful, unroll, time_major,
                 **kwargs):
        implementation = kwargs.pop("implementation", 2)
        zero_output_for_mask = kwargs.pop("zero_output_for_mask", False)
        kwargs.pop("cell", None)
        Layer.__init__(self, **kwargs)
        self._init_gates(units, activation, recurrent_activation, use_bias, kernel_initializer,
                         recurrent_initializer, bias_initializer, kernel_regularizer, recurrent_regularizer,
                         bias_regularizer, kernel_constraint, recurrent_constraint, bias_constraint, dropout,
                         recurrent_dropout, implementation)
        self._init_rnn(return_sequences, return_state, go_backwards, stateful, unroll, time_major,
                       zero_output_for_mask)

    @property
    def cell(self):
        """The layer computes its cell's equations itself (Keras code reads `layer.cell.units` and such)."""
        return self

    # ------------------------------------------------------------------------------------------- build
    _input_ndim = 3

    def _build_cell(self, step_shape, constants_shapes):
        self._build_gates(step_shape[-1])

    # -------------------------------------------------------------------------------------------- call
    def _run_sequence(self, x, states, mask, training, constants):
        if constants:
            raise ValueError(f"{type(self).__name__} does not take `constants`; use `RNN(cell)` with a cell whose "
                             "`call` accepts them.")
        sequence_dropout = (self._cudnn_style_dropout and self._fused_ok() and self.recurrent_dropout == 0
                            and not self.unroll and self.use_bias)
        return run_gate_sequence(self, x, states, mask, training, self.return_sequences, self.zero_output_for_mask,
                                 sequence_dropout=sequence_dropout)

    # ------------------------------------------------------------------------------------------ config
    def get_config(self):
        config = Layer.get_config(self)
        config.update(self._rnn_config())
        config.update(self._gate_config(activity_regularizer=self.activity_regularizer))
        if self.zero_output_for_mask:
            config["zero_output_for_mask"] = True
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config.pop("cell", None)
        return cls(**config)
