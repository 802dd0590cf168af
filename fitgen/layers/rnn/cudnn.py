"""`CuDNNLSTM` and `CuDNNGRU`: Keras 2's cuDNN layers, on torch's fused LSTM / GRU kernels (cuDNN on a GPU,
the CPU kernels elsewhere), with Keras's cuDNN weight layout at the surface.

Keras's cuDNN layers hand each gate's kernel block to cuDNN by flattening it without a transpose, so their
`kernel` is not an `LSTM`'s: block k of the (input_dim, G*units) kernel, read as a (units, input_dim)
matrix, is cuDNN's (and torch's) input matrix of gate k; the recurrent blocks are cuDNN's recurrent matrices
as they are. The bias holds the input biases then the recurrent biases (cuDNN has both). `get_weights`,
`.h5` files and optimizer slots use that layout, so files go both ways with Keras; `load_weights` converts
between these and `LSTM` / `GRU` weights (see `fitgen.saving.keras_compat`).
"""
import torch

from fitgen import constraints, initializers, regularizers
from fitgen.engine.base_layer import Layer, Layout
from fitgen.layers.rnn.base import RNNBase
from fitgen.layers.rnn.gru import GRUMath
from fitgen.layers.rnn.lstm import LSTMMath


class CuDNNLayout(Layout):
    """Keras's cuDNN weight (kernel (in, G*u), recurrent kernel (u, G*u) or bias (2*G*u,)) <-> torch's
    (G*u, in), (G*u, u), (2*G*u,) with gate blocks in torch's order (`order[p]` = Keras block at torch p)."""

    def __init__(self, units, order, kind):
        self.units, self.order, self.kind = units, tuple(order), kind

    def from_keras(self, tensor):
        u = self.units
        if self.kind == "bias":
            halves = torch.split(tensor, len(self.order) * u)
            return torch.cat([torch.cat([torch.split(h, u)[k] for k in self.order]) for h in halves]).contiguous()
        blocks = torch.split(tensor, u, dim=-1)
        return torch.cat([blocks[k].reshape(u, -1) for k in self.order]).contiguous()

    def to_keras(self, tensor):
        u = self.units
        if self.kind == "bias":
            halves = torch.split(tensor, len(self.order) * u)
            return torch.cat([torch.cat([torch.split(h, u)[self.order.index(k)] for k in range(len(self.order))])
                              for h in halves])
        blocks = torch.split(tensor, u)
        return torch.cat([blocks[self.order.index(k)].reshape(-1, u) for k in range(len(self.order))], dim=-1)

    def torch_shape(self, keras_shape):
        if self.kind == "bias":
            return tuple(keras_shape)
        return (keras_shape[1], keras_shape[0])


class _CuDNNRNN(RNNBase):
    """What CuDNNLSTM and CuDNNGRU share: Keras's arguments, the cuDNN weight layout, the fused kernel."""

    _weight_prefix = ""

    def __init__(self, units, kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, time_major=False, **kwargs):
        for ignored in ("unroll", "implementation"):
            kwargs.pop(ignored, None)
        super().__init__(units, "tanh", "sigmoid", True, kernel_initializer, recurrent_initializer,
                         bias_initializer, kernel_regularizer, recurrent_regularizer, bias_regularizer,
                         kernel_constraint, recurrent_constraint, bias_constraint, 0.0, 0.0, return_sequences,
                         return_state, go_backwards, stateful, False, time_major,
                         activity_regularizer=activity_regularizer, **kwargs)

    def _build_gates(self, input_dim):
        if input_dim is None:
            raise ValueError(f"The last dimension of the inputs to {type(self).__name__} should be defined. "
                             "Found None.")
        g, u = self._gates, self.units
        specs = (("kernel", (int(input_dim), g * u), self.kernel_initializer, self.kernel_regularizer,
                  self.kernel_constraint),
                 ("recurrent_kernel", (u, g * u), self.recurrent_initializer, self.recurrent_regularizer,
                  self.recurrent_constraint),
                 ("bias", (2 * g * u,), self._bias_initializer(), self.bias_regularizer, self.bias_constraint))
        weights = []
        for name, shape, initializer, regularizer, constraint in specs:
            self.add_weight(name, shape, initializer=initializer, regularizer=regularizer, constraint=constraint,
                            layout=CuDNNLayout(u, self._torch_order, "bias" if name == "bias" else name))
            weights.append(self._layer_weights[-1])
        self._kernel_weight, self._recurrent_weight, self._bias_weight = weights

    def _fused_ok(self):
        return True

    def _fast_loop(self):
        return None

    def _fused(self, x, states, training):
        half = self._gates * self.units
        params = [self.kernel, self.recurrent_kernel, self.bias[:half], self.bias[half:]]
        kernel = torch.lstm if self._gates == 4 else torch.gru
        hx = tuple(s.unsqueeze(0) for s in states) if self._gates == 4 else states[0].unsqueeze(0)
        output, *final = kernel(x, hx, params, True, 1, 0.0, training, False, True)
        return output, [s[0] for s in final]

    def _run_sequence(self, x, states, mask, training, constants):
        if mask is not None:
            raise TypeError(f"Layer {self.name} ({type(self).__name__}) does not support masking, but was passed "
                            "an input mask. Use LSTM/GRU for masked sequences.")
        if constants:
            raise ValueError(f"{type(self).__name__} does not take `constants`.")
        sequence, states = self._fused(x, states, training)
        return sequence, sequence[:, -1], states

    def get_config(self):
        config = Layer.get_config(self)
        config.update({"return_sequences": self.return_sequences, "return_state": self.return_state,
                       "go_backwards": self.go_backwards, "stateful": self.stateful, "time_major": self.time_major,
                       "units": self.units,
                       "kernel_initializer": initializers.serialize(self.kernel_initializer),
                       "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
                       "bias_initializer": initializers.serialize(self.bias_initializer)})
        config.update(self._initializer_extras())
        config.update({"kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                       "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
                       "bias_regularizer": regularizers.serialize(self.bias_regularizer),
                       "activity_regularizer": regularizers.serialize(self.activity_regularizer),
                       "kernel_constraint": constraints.serialize(self.kernel_constraint),
                       "recurrent_constraint": constraints.serialize(self.recurrent_constraint),
                       "bias_constraint": constraints.serialize(self.bias_constraint)})
        return config


class CuDNNLSTM(_CuDNNRNN, LSTMMath):
    """Keras 2's fast LSTM (`keras.layers.CuDNNLSTM`): tanh / sigmoid, no dropout, no masking.

    Runs torch's fused LSTM kernel (cuDNN on a GPU, and unlike Keras, also on a CPU). Weights in Keras's
    cuDNN layout: `kernel` (input_dim, 4*units), `recurrent_kernel` (units, 4*units), `bias` (8*units,) (input
    biases then recurrent biases, gate blocks i, f, c, o).

    Args:
        units, kernel_initializer, recurrent_initializer, bias_initializer, unit_forget_bias (1 added to the
        recurrent forget bias), kernel_regularizer, recurrent_regularizer, bias_regularizer,
        activity_regularizer, kernel_constraint, recurrent_constraint, bias_constraint, return_sequences,
        return_state, go_backwards, stateful, time_major: as for `LSTM`.
    """

    def __init__(self, units, kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", unit_forget_bias=True, **kwargs):
        super().__init__(units, kernel_initializer, recurrent_initializer, bias_initializer, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)

    def _bias_initializer(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        base, units = self.bias_initializer, self.units

        def init(shape, dtype=None):
            # As Keras's CuDNNLSTM: the 1 goes to the recurrent half's forget block.
            value = torch.as_tensor(base(shape, dtype=dtype)).clone()
            value[5 * units:6 * units] = 1.0
            return value
        return init


class CuDNNGRU(_CuDNNRNN, GRUMath):
    """Keras 2's fast GRU (`keras.layers.CuDNNGRU`): a `GRU(reset_after=True)` with tanh / sigmoid, no dropout,
    no masking, on torch's fused GRU kernel.

    Weights in Keras's cuDNN layout: `kernel` (input_dim, 3*units), `recurrent_kernel` (units, 3*units),
    `bias` (6*units,) (input biases then recurrent biases, gate blocks z, r, h).

    Args:
        units, kernel_initializer, recurrent_initializer, bias_initializer, kernel_regularizer,
        recurrent_regularizer, bias_regularizer, activity_regularizer, kernel_constraint,
        recurrent_constraint, bias_constraint, return_sequences, return_state, go_backwards, stateful,
        time_major: as for `GRU`.
    """

    reset_after = True
