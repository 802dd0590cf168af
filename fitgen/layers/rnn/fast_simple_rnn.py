"""SimpleRNN's (tanh or relu) sequence loop with its backward pass written out, for what torch's fused kernel
cannot do: Keras's recurrent dropout and masked timesteps. Same plan as `fast_gru`: the input projection runs
for all timesteps outside the loop, the forward loop fills a preallocated buffer without recording, and the
backward loop carries only dh.
"""
import torch
from torch.autograd.function import once_differentiable

from fitgen import activations
from fitgen.layers.rnn.fast_lstm import _threads_for, in_compute_dtype, keras_outputs


def _forward_loop(xz, h0, kernel_t, recurrent_mask, mask, relu):
    steps = xz.shape[0]
    hs = xz.new_empty(steps + 1, *h0.shape)
    hs[0] = h0
    for t in range(steps):
        h = hs[t]
        pre = torch.addmm(xz[t], h if recurrent_mask is None else h * recurrent_mask, kernel_t)
        new = torch.relu(pre) if relu else torch.tanh(pre)
        if mask is None:
            hs[t + 1] = new
        else:
            torch.where(mask[t], new, h, out=hs[t + 1])
    return hs


def _backward_loop(d_outputs, slopes, kernel, recurrent_mask, mask):
    """d(loss)/d(pre-activation) of every step and d(loss)/d(h0); slopes: the activation's derivative."""
    d_pre = torch.empty_like(slopes)
    dh = torch.zeros_like(d_outputs[0])
    for t in range(slopes.shape[0] - 1, -1, -1):
        dh = dh + d_outputs[t]
        dh_new = dh if mask is None else dh * mask[t]
        step = torch.mul(dh_new, slopes[t], out=d_pre[t])
        back = torch.mm(step, kernel)
        if recurrent_mask is not None:
            back = back * recurrent_mask
        dh = back if mask is None else back + (dh - dh_new)
    return d_pre, dh


class _SimpleRNNSequence(torch.autograd.Function):
    """(xz (T, N, u), h0, recurrent kernel (u, u) in torch's layout, recurrent mask, step mask) -> (T, N, u)."""

    @staticmethod
    def forward(ctx, xz, h0, recurrent_kernel, recurrent_mask, mask, relu):
        with _threads_for(h0, h0.shape[1]):
            hs = _forward_loop(xz, h0, recurrent_kernel.detach().t(), recurrent_mask, mask, relu)
        ctx.relu = relu
        ctx.save_for_backward(hs, recurrent_kernel, recurrent_mask, mask)
        return hs[1:]

    @staticmethod
    @once_differentiable
    def backward(ctx, d_outputs):
        hs, recurrent_kernel, recurrent_mask, mask = ctx.saved_tensors
        outputs = hs[1:]
        # A masked step's slope is never used (its gradient is zero there), so the carried state may stand in.
        slopes = (outputs > 0).to(outputs.dtype) if ctx.relu else 1 - outputs * outputs
        float_mask = None if mask is None else mask.to(hs.dtype)
        with _threads_for(hs, hs.shape[-1]):
            d_pre, dh0 = _backward_loop(d_outputs.contiguous(), slopes, recurrent_kernel, recurrent_mask,
                                        float_mask)
        previous = hs[:-1] if recurrent_mask is None else hs[:-1] * recurrent_mask
        u = hs.shape[-1]
        d_kernel = d_pre.reshape(-1, u).t().mm(previous.reshape(-1, u))
        return d_pre, dh0, d_kernel, None, None, None


def run(core, x, states, mask, input_masks, recurrent_masks, return_sequences, zero_output_for_mask):
    """SimpleRNN (tanh or relu) over x (N, T, F); same contract as `sequence.step_loop`."""
    xz = core._input_projection(x, input_masks).transpose(0, 1)  # (T, N, u)
    step_mask = None if mask is None else mask.transpose(0, 1).unsqueeze(-1).contiguous()
    recurrent_mask = None if recurrent_masks is None else recurrent_masks[0].contiguous()
    h0, kernel, recurrent_mask = in_compute_dtype(xz, states[0], core.recurrent_kernel, recurrent_mask)
    outputs = _SimpleRNNSequence.apply(xz.contiguous(), h0.contiguous(), kernel, recurrent_mask, step_mask,
                                       core.activation is activations.relu)
    return keras_outputs(outputs, step_mask, zero_output_for_mask, return_sequences) + ([outputs[-1]],)
