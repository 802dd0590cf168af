"""`GRU` and `GRUCell`: Keras 2's gated recurrent unit (tf-keras 2.21 `reset_after=True` default) on torch's
GRU."""
import torch
import torch.nn.functional as F

from fitgen.engine import call_context
from fitgen.layers.rnn import fast_gru
from fitgen.layers.rnn.base import RNNBase
from fitgen.layers.rnn.cells import GateCell
from fitgen.layers.rnn.gates import GateCore


class GRUMath(GateCore):
    """The GRU's weights and equations (Keras gate blocks z, r, h; torch stores r, z, n)."""

    _gates = 3
    _torch_order = (1, 0, 2)  # torch's r, z, n are Keras's blocks r (1), z (0), h (2)
    _state_count = 1

    def _bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def _input_bias(self):
        bias = self.bias
        return bias[0] if bias is not None and self.reset_after else bias

    def _fused_ok(self):
        return self.reset_after and super()._fused_ok()

    def _fast_loop(self):
        return fast_gru.run if self._fused_ok() else None

    def _trains_faster_in_loop(self, x):
        # torch's CPU GRU kernel has no fused backward: autograd runs its cell's small ops back through every
        # step. The written-out backward trains 1.0-2x faster ((32, 80, 64) -> 64 units: 13.9 -> 10.2 ms
        # forward + backward); torch's kernel stays faster for inference, and on GPUs (cuDNN). A traced step
        # (jit_compile) keeps torch's kernel, which the compiler decomposes and fuses.
        return (x.device.type == "cpu" and torch.is_grad_enabled() and not call_context.is_tracing()
                and (x.requires_grad or self.recurrent_kernel.requires_grad))

    def _fused(self, x, states, training):
        params = [self.kernel, self.recurrent_kernel]
        if self.use_bias:
            params += [self.bias[0], self.bias[1]]
        output, h = torch.gru(x, states[0].unsqueeze(0), params, self.use_bias, 1, 0.0, training, False, True)
        return output, [h[0]]

    def _step(self, projected, states, recurrent_masks):
        h = states[0]
        gate, units = self.recurrent_activation, self.units
        x_r, x_z, x_h = torch.split(projected, units, dim=-1)
        if self.reset_after:
            recurrent_bias = self.bias[1] if self.use_bias else None
            h_r, h_z, h_h = torch.split(self._recurrent_projection(h, recurrent_masks, recurrent_bias), units,
                                        dim=-1)
            r = gate(x_r + h_r)
            z = gate(x_z + h_z)
            candidate = self.activation(x_h + r * h_h)
        else:
            kernel = self.recurrent_kernel
            if recurrent_masks is None:
                h_r, h_z = torch.split(F.linear(h, kernel[:2 * units]), units, dim=-1)
                h_for_candidate = h
            else:
                h_z = F.linear(h * recurrent_masks[0], self._gate_rows(kernel, 0))
                h_r = F.linear(h * recurrent_masks[1], self._gate_rows(kernel, 1))
                h_for_candidate = h * recurrent_masks[2]
            r = gate(x_r + h_r)
            z = gate(x_z + h_z)
            candidate = self.activation(x_h + F.linear(r * h_for_candidate, self._gate_rows(kernel, 2)))
        h = z * h + (1 - z) * candidate
        return h, [h]

    def _extra_config(self):
        return {"reset_after": self.reset_after}


_GRU_ARGS = """
    Args:
        units, activation, recurrent_activation, use_bias, kernel_initializer, recurrent_initializer,
        bias_initializer, kernel_regularizer, recurrent_regularizer, bias_regularizer, activity_regularizer,
        kernel_constraint, recurrent_constraint, bias_constraint, dropout, recurrent_dropout,
        return_sequences, return_state, go_backwards, stateful, time_major, unroll: as for `LSTM`.
        reset_after: apply the reset gate after the recurrent matrix multiplication (default True).
"""


class GRU(GRUMath, RNNBase):
    """Gated Recurrent Unit (Cho et al. 2014), as `keras.layers.GRU` of tf-keras 2.21.

    Weights (Keras order and shapes): `gru_cell/kernel` (input_dim, 3*units), `gru_cell/recurrent_kernel`
    (units, 3*units), gate blocks z, r, h; `gru_cell/bias` (2, 3*units) (row 0 input bias, row 1 recurrent
    bias) with `reset_after=True`, (3*units,) otherwise. torch's GRU computes Keras's `reset_after=True`
    variant, so that case (with tanh / sigmoid, no recurrent dropout, no mask) runs torch's fused kernel for
    inference and on GPUs; training on the CPU, recurrent dropout and masks run a hand-differentiated loop
    (faster than torch's CPU kernel, which has no fused backward); `reset_after=False` (Keras 2.2.4's
    default: the reset gate applied before the recurrent matmul) runs a step loop.
    {args}
    Call arguments: as for `LSTM`; `initial_state` is `[h]` and `return_state` gives `[output, h]`.
    """

    _weight_prefix = "gru_cell/"
    _cudnn_style_dropout = True

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0, recurrent_dropout=0.0,
                 return_sequences=False, return_state=False, go_backwards=False, stateful=False, unroll=False,
                 time_major=False, reset_after=True, **kwargs):
        super().__init__(units, activation, recurrent_activation, use_bias, kernel_initializer,
                         recurrent_initializer, bias_initializer, kernel_regularizer, recurrent_regularizer,
                         bias_regularizer, kernel_constraint, recurrent_constraint, bias_constraint, dropout,
                         recurrent_dropout, return_sequences, return_state, go_backwards, stateful, unroll,
                         time_major, activity_regularizer=activity_regularizer, **kwargs)
        self.reset_after = bool(reset_after)


class GRUCell(GRUMath, GateCell):
    """One GRU timestep, as `keras.layers.GRUCell` of tf-keras 2.21 (`reset_after=True` by default).

    `output, h = cell(inputs, h)` (or `[h]` given `[h]`). Weights `kernel` (input_dim, 3*units),
    `recurrent_kernel` (units, 3*units), `bias` (2, 3*units) with `reset_after`, else (3*units,); gate blocks
    z, r, h.
    {args}
    """

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, kernel_constraint=None, recurrent_constraint=None, bias_constraint=None,
                 dropout=0.0, recurrent_dropout=0.0, reset_after=True, **kwargs):
        super().__init__(units, activation, recurrent_activation, use_bias, kernel_initializer,
                         recurrent_initializer, bias_initializer, kernel_regularizer, recurrent_regularizer,
                         bias_regularizer, kernel_constraint, recurrent_constraint, bias_constraint, dropout,
                         recurrent_dropout, **kwargs)
        self.reset_after = bool(reset_after)


GRU.__doc__ = GRU.__doc__.replace("{args}", _GRU_ARGS.strip("\n"))
GRUCell.__doc__ = GRUCell.__doc__.replace("{args}", _GRU_ARGS.strip("\n"))
