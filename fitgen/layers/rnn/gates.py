"""What a gated recurrent layer (LSTM) and its cell (LSTMCell) share: arguments, weights, per-gate products.

Weights are stored as torch's fused RNN kernels want them (`weight_ih` (G*u, in), `weight_hh` (G*u, u),
gate blocks in torch's order) and shown to Keras in Keras's layout by a `GateLayout`, so the same tensors
feed torch's fused kernel, fitgen's own sequence loops and one-step cell calls.
"""
import numbers

import torch
import torch.nn.functional as F

from fitgen import activations, constraints, initializers, regularizers
from fitgen.engine.base_layer import Layout


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


def check_rate(name, value):
    """A dropout rate as a float in [0, 1]; ValueError naming `name` otherwise."""
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"`{name}` must be a float between 0 and 1. Received: {name}={value!r}")
    return value


def check_units(units, name="units"):
    if isinstance(units, bool) or not isinstance(units, numbers.Real) or int(units) != units or units <= 0:
        raise ValueError(f"`{name}` must be a positive integer. Received: {name}={units!r}")
    return int(units)


def set_recurrent_options(layer, activation, recurrent_activation, use_bias, kernel_initializer,
                          recurrent_initializer, bias_initializer, kernel_regularizer, recurrent_regularizer,
                          bias_regularizer, kernel_constraint, recurrent_constraint, bias_constraint, dropout,
                          recurrent_dropout):
    """The Keras arguments every gated recurrent layer shares (dense and convolutional), resolved and kept on
    `layer` under Keras's names."""
    layer.activation = activations.get(activation)
    layer.recurrent_activation = activations.get(recurrent_activation)
    layer.use_bias = bool(use_bias)
    layer.kernel_initializer = initializers.get(kernel_initializer)
    layer.recurrent_initializer = initializers.get(recurrent_initializer)
    layer.bias_initializer = initializers.get(bias_initializer)
    layer.kernel_regularizer = regularizers.get(kernel_regularizer)
    layer.recurrent_regularizer = regularizers.get(recurrent_regularizer)
    layer.bias_regularizer = regularizers.get(bias_regularizer)
    layer.kernel_constraint = constraints.get(kernel_constraint)
    layer.recurrent_constraint = constraints.get(recurrent_constraint)
    layer.bias_constraint = constraints.get(bias_constraint)
    layer.dropout = check_rate("dropout", dropout)
    layer.recurrent_dropout = check_rate("recurrent_dropout", recurrent_dropout)


class GateCore:
    """Mixin: the weights and gate products of a SimpleRNN / LSTM / GRU computation.

    Used by the recurrent layers (weights named `lstm_cell/kernel`, as tf-keras names a layer's cell weights)
    and by the cells (`kernel`). Subclasses set `_gates`, `_torch_order`, `_state_count` and implement
    `_step` (one timestep of Keras's cell equations in torch gate order) and `_fused` (torch's kernel).
    """

    _gates = 1
    _torch_order = (0,)
    _state_count = 1
    _weight_prefix = ""
    _has_recurrent_activation = True
    _has_implementation = True

    def _init_gates(self, units, activation, recurrent_activation, use_bias, kernel_initializer,
                    recurrent_initializer, bias_initializer, kernel_regularizer, recurrent_regularizer,
                    bias_regularizer, kernel_constraint, recurrent_constraint, bias_constraint, dropout,
                    recurrent_dropout, implementation=2):
        self.units = check_units(units)
        set_recurrent_options(self, activation, recurrent_activation, use_bias, kernel_initializer,
                              recurrent_initializer, bias_initializer, kernel_regularizer, recurrent_regularizer,
                              bias_regularizer, kernel_constraint, recurrent_constraint, bias_constraint, dropout,
                              recurrent_dropout)
        # tf-keras falls back to implementation 1 (one dropout mask per gate) under recurrent dropout.
        self.implementation = 1 if self.recurrent_dropout != 0 else int(implementation)

    @property
    def state_size(self):
        return [self.units] * self._state_count if self._state_count > 1 else self.units

    @property
    def output_size(self):
        return self.units

    # ------------------------------------------------------------------------------------------- weights
    def _build_gates(self, input_dim):
        if input_dim is None:
            raise ValueError(f"The last dimension of the inputs to {type(self).__name__} should be defined. "
                             "Found None.")
        gates, units = self._gates, self.units
        self._kernel_weight = self._add_gate_weight(
            "kernel", (int(input_dim), gates * units), self.kernel_initializer, self.kernel_regularizer,
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
        self.register_buffer("_zero_recurrent_bias", torch.zeros(gates * units, dtype=self.kernel.dtype),
                             persistent=False)

    def _bias_shape(self):
        return (self._gates * self.units,)

    def _bias_initializer(self):
        return self.bias_initializer

    def _add_gate_weight(self, name, shape, initializer, regularizer, constraint, transpose):
        self.add_weight(self._weight_prefix + name, shape, initializer=initializer, regularizer=regularizer,
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

    def _input_bias(self):
        return self.bias

    # ----------------------------------------------------------------------------------------- products
    def _fused_ok(self):
        return self.activation is activations.tanh and self.recurrent_activation is activations.sigmoid

    def _fast_loop(self):
        """A hand-differentiated sequence loop for this kind, or None (see `fast_lstm`)."""
        return None

    def _trains_faster_in_loop(self, x):
        """Whether the hand-differentiated loop beats torch's fused kernel on `x` even without masks or
        recurrent dropout (the GRU on the CPU, when gradients are wanted)."""
        return False

    def _input_projection(self, x, input_masks):
        """x @ kernel + bias for every timestep at once (..., G*u) in torch gate order; with Keras's
        implementation 1, gate k sees the input through its own dropout mask."""
        bias = self._input_bias()
        if input_masks is None:
            return F.linear(x, self.kernel, bias)
        if len(input_masks) == 1:
            return F.linear(x * input_masks[0], self.kernel, bias)
        parts = []
        for keras_gate in self._torch_order:
            rows = self._gate_rows(self.kernel, keras_gate)
            part_bias = None if bias is None else self._gate_rows(bias, keras_gate)
            parts.append(F.linear(x * input_masks[keras_gate], rows, part_bias))
        return torch.cat(parts, dim=-1)

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

    # ------------------------------------------------------------------------------------------- config
    def _gate_config(self, activity_regularizer=None):
        """The cell's config keys in tf-keras's order (with `activity_regularizer` for a layer)."""
        config = {"units": self.units, "activation": activations.serialize(self.activation)}
        if self._has_recurrent_activation:
            config["recurrent_activation"] = activations.serialize(self.recurrent_activation)
        config.update({
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer)})
        config.update(self._initializer_extras())
        config.update({
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer)})
        if activity_regularizer is not False:
            config["activity_regularizer"] = regularizers.serialize(activity_regularizer)
        config.update({
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "recurrent_constraint": constraints.serialize(self.recurrent_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout})
        if self._has_implementation:
            config["implementation"] = self.implementation
        config.update(self._extra_config())
        return config

    def _initializer_extras(self):
        return {}

    def _extra_config(self):
        return {}
