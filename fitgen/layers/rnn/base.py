"""What SimpleRNN, LSTM and GRU share: weights in torch's fused-RNN layout, states, masks, dropout, config.

Weights are stored as torch's fused RNN kernels want them (`weight_ih` (G*u, in), `weight_hh` (G*u, u),
gate blocks in torch's order) and shown to Keras in Keras's layout by a `GateLayout`. The common case
(tanh / sigmoid activations, no recurrent dropout, no mask) runs torch's fused kernel directly on those
tensors; anything else runs a step loop on the same tensors with Keras's cell equations.
"""
import numbers

import torch
import torch.nn.functional as F

from fitgen import activations, constraints, initializers, regularizers
from fitgen.engine.base_layer import Layer, Layout


class GateLayout(Layout):
    """A gate-stacked RNN weight: Keras (..., G*u) with gate blocks in Keras order <-> torch layout.

    `order[k]` is the Keras gate block that sits at torch position k (GRU: torch r, z, n = Keras 1, 0, 2).
    With `transpose`, the 2-D Keras matrix (in, G*u) is stored as torch's (G*u, in).
    """

    def __init__(self, units, order, transpose):
        self.units = units
        self.order = tuple(order)
        self.inverse = tuple(self.order.index(k) for k in range(len(self.order)))
        self.transpose = transpose

    def _reorder(self, tensor, order):
        if order == tuple(range(len(order))):
            return tensor
        blocks = torch.split(tensor, self.units, dim=-1)
        return torch.cat([blocks[k] for k in order], dim=-1)

    def from_keras(self, tensor):
        tensor = self._reorder(tensor, self.order)
        return (tensor.t() if self.transpose else tensor).contiguous()

    def to_keras(self, tensor):
        return self._reorder(tensor.t() if self.transpose else tensor, self.inverse)

    def torch_shape(self, keras_shape):
        return tuple(reversed(keras_shape)) if self.transpose else tuple(keras_shape)


def _check_rate(name, value):
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"`{name}` must be a float between 0 and 1. Received: {name}={value!r}")
    return min(value, 1.0)


class RNNBase(Layer):
    """Base of the built-in recurrent layers (not public: use SimpleRNN, LSTM or GRU).

    Subclasses set `_cell_name`, `_gates`, `_torch_order`, `_state_count` and implement `_fused` (torch's
    kernel) and `_step` (one timestep of Keras's cell equations in torch gate order).
    """

    _cell_name = "rnn_cell"
    _gates = 1
    _torch_order = (0,)
    _state_count = 1

    def __init__(self, units, activation, recurrent_activation, use_bias, kernel_initializer,
                 recurrent_initializer, bias_initializer, kernel_regularizer, recurrent_regularizer,
                 bias_regularizer, kernel_constraint, recurrent_constraint, bias_constraint, dropout,
                 recurrent_dropout, return_sequences, return_state, go_backwards, stateful, unroll, time_major,
                 **kwargs):
        implementation = kwargs.pop("implementation", 2)
        self.zero_output_for_mask = bool(kwargs.pop("zero_output_for_mask", False))
        kwargs.pop("cell", None)
        super().__init__(**kwargs)
        if isinstance(units, bool) or not isinstance(units, numbers.Real) or int(units) != units or units <= 0:
            raise ValueError(f"`units` must be a positive integer. Received: units={units!r}")
        self.units = int(units)
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.dropout = _check_rate("dropout", dropout)
        self.recurrent_dropout = _check_rate("recurrent_dropout", recurrent_dropout)
        # tf-keras falls back to implementation 1 (one dropout mask per gate) under recurrent dropout.
        self.implementation = 1 if self.recurrent_dropout != 0 else int(implementation)
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.unroll = bool(unroll)
        self.time_major = bool(time_major)
        self.supports_masking = True
        self.states = [None] * self._state_count

    @property
    def state_size(self):
        return [self.units] * self._state_count

    # ------------------------------------------------------------------------------------------- weights
    def build(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(f"Input 0 of layer {self.name!r} is incompatible with the layer: expected ndim=3, "
                             f"found ndim={len(input_shape)}. Full shape received: {tuple(input_shape)}")
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(f"The last dimension of the inputs to {type(self).__name__} should be defined. "
                             f"Found None (input shape {tuple(input_shape)}).")
        gates, units = self._gates, self.units
        self._kernel_weight = self._add_gate_weight(
            "kernel", (input_dim, gates * units), self.kernel_initializer, self.kernel_regularizer,
            self.kernel_constraint, transpose=True)
        self._recurrent_weight = self._add_gate_weight(
            "recurrent_kernel", (units, gates * units), self.recurrent_initializer, self.recurrent_regularizer,
            self.recurrent_constraint, transpose=True)
        self._bias_weight = None
        if self.use_bias:
            self._bias_weight = self._add_gate_weight(
                "bias", self._bias_shape(), self._bias_initializer(), self.bias_regularizer,
                self.bias_constraint, transpose=False)
        # torch's fused kernels take a second (recurrent) bias that Keras's LSTM/SimpleRNN do not have.
        self.register_buffer("_zero_recurrent_bias", torch.zeros(gates * units), persistent=False)
        self.built = True

    def _bias_shape(self):
        return (self._gates * self.units,)

    def _bias_initializer(self):
        return self.bias_initializer

    def _add_gate_weight(self, name, shape, initializer, regularizer, constraint, transpose):
        self.add_weight(f"{self._cell_name}/{name}", shape, initializer=initializer, regularizer=regularizer,
                        constraint=constraint, layout=GateLayout(self.units, self._torch_order, transpose))
        return self._layer_weights[-1]

    @property
    def kernel(self):
        """The input kernel, in torch layout (G*u, input_dim) and torch gate order."""
        return self._kernel_weight.tensor

    @property
    def recurrent_kernel(self):
        """The recurrent kernel, in torch layout (G*u, units) and torch gate order."""
        return self._recurrent_weight.tensor

    @property
    def bias(self):
        """The bias in torch gate order (None without `use_bias`)."""
        return None if self._bias_weight is None else self._bias_weight.tensor

    # --------------------------------------------------------------------------------------------- call
    def call(self, inputs, mask=None, training=None, initial_state=None):
        training = self.training if training is None else bool(training)
        if mask is None:
            mask = getattr(inputs, "_keras_mask", None)
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        output_mask = mask
        x = inputs.transpose(0, 1) if self.time_major else inputs  # batch-major view
        if not x.is_floating_point():
            x = x.to(self.kernel.dtype)
        batch = x.shape[0]
        states = self._initial_states(x, batch, initial_state)
        if mask is not None:
            mask = mask.to(device=x.device, dtype=torch.bool)
            if self.time_major:
                mask = mask.transpose(0, 1)
            if bool(mask.all()):
                mask = None
        if self.go_backwards:
            x = torch.flip(x, dims=(1,))
            mask = None if mask is None else torch.flip(mask, dims=(1,))

        recurrent_dropout = training and 0.0 < self.recurrent_dropout
        input_masks = self._dropout_masks(x, training)
        if mask is None and not recurrent_dropout and self._fused_ok():
            if input_masks is not None and len(input_masks) == 1:
                x = x * input_masks[0]
                input_masks = None
            if input_masks is None:
                sequence, states = self._fused(x, states, training)
                return self._finish(output_mask, sequence, sequence[:, -1], states)
        recurrent_masks = self._recurrent_dropout_masks(states[0], training) if recurrent_dropout else None
        sequence, last, states = self._loop(x, states, mask, input_masks, recurrent_masks)
        return self._finish(output_mask, sequence, last, states)

    def _finish(self, mask, sequence, last, states):
        if self.stateful:
            self.states = [s.detach() for s in states]
        if self.return_sequences:
            output = sequence.transpose(0, 1) if self.time_major else sequence
            if mask is not None:
                output._keras_mask = mask
        else:
            output = last
        if self.return_state:
            return [output] + list(states)
        return output

    def _fused_ok(self):
        return (self.activation is activations.tanh and self.recurrent_activation is activations.sigmoid)

    def _initial_states(self, x, batch, initial_state):
        count = self._state_count
        if initial_state is not None:
            initial_state = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
            if len(initial_state) != count:
                raise ValueError(f"Layer {self.name!r} expects {count} initial state tensor(s) of shape "
                                 f"(batch, {self.units}); received {len(initial_state)}.")
            states = []
            for state in initial_state:
                state = torch.as_tensor(state, dtype=x.dtype, device=x.device)
                if tuple(state.shape) != (batch, self.units):
                    raise ValueError(f"An initial state of layer {self.name!r} must have shape (batch, "
                                     f"{self.units}) = ({batch}, {self.units}); received {tuple(state.shape)}.")
                states.append(state)
            return states
        if self.stateful and self.states[0] is not None:
            if self.states[0].shape[0] != batch:
                raise ValueError(f"Stateful layer {self.name!r} holds states for batch size "
                                 f"{self.states[0].shape[0]}, but received a batch of {batch}. A stateful RNN "
                                 "needs the same batch size on every call (or call reset_states()).")
            return [s.to(device=x.device, dtype=x.dtype) for s in self.states]
        return [x.new_zeros(batch, self.units) for _ in range(count)]

    def reset_states(self, states=None):
        """Resets a stateful layer's states to zeros (or to the given arrays)."""
        if not self.stateful:
            raise AttributeError("Layer must be stateful to call reset_states().")
        if states is None:
            self.states = [None] * self._state_count
            return
        states = list(states) if isinstance(states, (list, tuple)) else [states]
        self.states = [torch.as_tensor(s, dtype=self.kernel.dtype, device=self.kernel.device) for s in states]

    # ------------------------------------------------------------------------------------------ dropout
    def _dropout_masks(self, x, training):
        """Input dropout masks, each (N, 1, F): Keras draws one per call and reuses it at every timestep."""
        if not (training and 0.0 < self.dropout):
            return None
        count = self._gates if self.implementation == 1 else 1
        ones = x.new_ones(x.shape[0], 1, x.shape[2])
        return [F.dropout(ones, self.dropout, training=True) for _ in range(count)]

    def _recurrent_dropout_masks(self, state, training):
        ones = state.new_ones(state.shape)
        return [F.dropout(ones, self.recurrent_dropout, training=True) for _ in range(self._gates)]

    # --------------------------------------------------------------------------------------------- loop
    def _input_projection(self, x, input_masks):
        """x @ kernel + bias for every timestep at once, (N, T, G*u) in torch gate order."""
        bias = self._input_bias()
        if input_masks is None:
            return F.linear(x, self.kernel, bias)
        if len(input_masks) == 1:
            return F.linear(x * input_masks[0], self.kernel, bias)
        u = self.units
        # Keras's implementation 1: gate k (Keras order) sees the input through its own mask.
        parts = []
        for position, keras_gate in enumerate(self._torch_order):
            rows = slice(position * u, (position + 1) * u)
            parts.append(F.linear(x * input_masks[keras_gate], self.kernel[rows],
                                  None if bias is None else bias[rows]))
        return torch.cat(parts, dim=-1)

    def _input_bias(self):
        return self.bias

    def _loop(self, x, states, mask, input_masks, recurrent_masks):
        projected = self._input_projection(x, input_masks)
        outputs = []
        previous = x.new_zeros(x.shape[0], self.units)
        for t in range(projected.shape[1]):
            output, new_states = self._step(projected[:, t], states, recurrent_masks)
            if mask is not None:
                keep = mask[:, t].unsqueeze(-1)
                output = torch.where(keep, output, torch.zeros_like(output) if self.zero_output_for_mask
                                     else previous)
                new_states = [torch.where(keep, new, old) for new, old in zip(new_states, states)]
            states, previous = new_states, output
            outputs.append(output)
        sequence = torch.stack(outputs, dim=1) if self.return_sequences else None
        return sequence, outputs[-1], states

    def _gate_rows(self, tensor, keras_gate):
        """The rows (torch layout) of Keras gate block `keras_gate`."""
        position = self._torch_order.index(keras_gate)
        return tensor[position * self.units:(position + 1) * self.units]

    def _recurrent_projection(self, state, recurrent_masks, bias=None):
        """state @ recurrent_kernel (+ bias), (N, G*u) in torch gate order; with implementation-1 recurrent
        dropout each gate block sees the state through its own mask."""
        if recurrent_masks is None:
            return F.linear(state, self.recurrent_kernel, bias)
        parts = []
        for keras_gate in self._torch_order:
            rows = self._gate_rows(self.recurrent_kernel, keras_gate)
            part_bias = None if bias is None else self._gate_rows(bias, keras_gate)
            parts.append(F.linear(state * recurrent_masks[keras_gate], rows, part_bias))
        return torch.cat(parts, dim=-1)

    # ------------------------------------------------------------------------------------------- shapes
    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        batch, steps = (input_shape[1], input_shape[0]) if self.time_major else (input_shape[0], input_shape[1])
        if self.return_sequences:
            output = (steps, batch, self.units) if self.time_major else (batch, steps, self.units)
        else:
            output = (batch, self.units)
        if self.return_state:
            return [output] + [(batch, self.units) for _ in range(self._state_count)]
        return output

    # ------------------------------------------------------------------------------------------- config
    def get_config(self):
        config = super().get_config()
        config.update({
            "return_sequences": self.return_sequences, "return_state": self.return_state,
            "go_backwards": self.go_backwards, "stateful": self.stateful, "unroll": self.unroll,
            "time_major": self.time_major, "units": self.units,
            "activation": activations.serialize(self.activation)})
        config.update(self._cell_config())
        config.update({
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "recurrent_constraint": constraints.serialize(self.recurrent_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout})
        config.update(self._extra_config())
        if self.zero_output_for_mask:
            config["zero_output_for_mask"] = True
        return config

    def _cell_config(self):
        """Keys between `activation` and the regularizers, in tf-keras's order."""
        return {"use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer)}

    def _extra_config(self):
        return {}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config.pop("cell", None)
        return cls(**config)
