"""The GRU's (`reset_after=True`, tanh / sigmoid) sequence loop with its backward pass written out, for what
torch's fused kernel cannot do (Keras's recurrent dropout and masked timesteps) and for training on the CPU,
where torch's kernel has no fused backward and this loop is faster. Same plan as `fast_lstm`: the input
projection is one matmul per gate for all timesteps outside the loop; the forward loop fills preallocated
buffers without recording; the backward loop carries only dh, everything else is computed for all timesteps
at once.

Forward buffers are gate-major (T, 3, N, u) in torch's gate order r, z, n (Keras's blocks r, z, h); the backward
pass's are batch-major (T, N, 3, u), so that a step's three gates form one matrix.
"""
import torch
from torch.autograd.function import once_differentiable

from fitgen.layers.rnn.fast_lstm import _threads_for, in_compute_dtype, keras_outputs


def _forward_loop(xz, h0, kernels_t, bias, recurrent_masks, mask):
    steps = xz.shape[0]
    n, u = h0.shape
    hs = xz.new_empty(steps + 1, n, u)
    gates = xz.new_empty(steps, 3, n, u)
    # The r and z pre-activations are x + h W + b together; the candidate's recurrent part h W_n + b_n alone
    # (r multiplies it). One addition for all timesteps gives baddbmm the term it adds: five kernels a step.
    pre = torch.cat([xz[:, :2] + bias[:2], bias[2:].expand(steps, 1, n, u)], dim=1)
    hs[0] = h0
    for t in range(steps):
        h = hs[t]
        p, g = pre[t], gates[t]
        if recurrent_masks is None:
            p.baddbmm_(h.unsqueeze(0).expand(3, n, u), kernels_t)
        else:
            p.baddbmm_(h.unsqueeze(0) * recurrent_masks, kernels_t)
        torch.sigmoid(p[:2], out=g[:2])
        torch.tanh(torch.addcmul(xz[t, 2], g[0], p[2]), out=g[2])
        # z * h + (1 - z) * candidate, as candidate + z * (h - candidate) (torch's GRU cell writes it so too)
        if mask is None:
            torch.lerp(g[2], h, g[1], out=hs[t + 1])
        else:
            torch.where(mask[t], torch.lerp(g[2], h, g[1]), h, out=hs[t + 1])
    return hs, gates, pre[:, 2]


def _backward_loop(d_hs, rec_factors, update, recurrent_kernel, recurrent_masks, mask):
    """d(loss)/d(recurrent pre-activations) and d(loss)/d(new h) of every step, and d(loss)/d(h0).

    rec_factors (T, N, 3, u): d(recurrent pre-activation of gate k) / d(new h); update (T, N, u): z. Batch-major,
    so that a step's three gates are one (N, 3u) matrix: without recurrent dropout the gradient through the
    three recurrent products is one addmm with the (3u, u) kernel.
    """
    steps, n, _, u = rec_factors.shape
    d_rec = torch.empty_like(rec_factors)
    d_new = torch.empty_like(update)
    dh = torch.zeros_like(d_hs[0])
    kernels = recurrent_kernel.view(3, u, u)
    for t in range(steps - 1, -1, -1):
        if mask is None:
            dh_new = torch.add(dh, d_hs[t], out=d_new[t])
        else:
            dh = dh + d_hs[t]
            dh_new = torch.mul(dh, mask[t], out=d_new[t])
            dh_old = dh - dh_new
        step = torch.mul(rec_factors[t], dh_new.unsqueeze(1), out=d_rec[t])
        if recurrent_masks is None:
            dh = torch.addmm(dh_new * update[t], step.view(n, 3 * u), recurrent_kernel)
        else:
            dh = torch.addcmul((torch.bmm(step.transpose(0, 1), kernels) * recurrent_masks).sum(0), dh_new, update[t])
        if mask is not None:
            dh = dh + dh_old
    return d_rec, d_new, dh


class _GRUSequence(torch.autograd.Function):
    """(xz (T, 3, N, u), h0, recurrent kernel (3u, u), recurrent bias (3u,), masks) -> outputs (T, N, u)."""

    @staticmethod
    def forward(ctx, xz, h0, recurrent_kernel, recurrent_bias, recurrent_masks, mask):
        u = h0.shape[1]
        kernels = recurrent_kernel.detach().view(3, u, u)
        bias = recurrent_bias.detach().view(3, 1, u)
        with _threads_for(h0, u):
            hs, gates, recurrent_n = _forward_loop(xz, h0, kernels.transpose(1, 2), bias, recurrent_masks, mask)
        ctx.save_for_backward(hs, gates, recurrent_n, recurrent_kernel, recurrent_masks, mask)
        return hs[1:]

    @staticmethod
    @once_differentiable
    def backward(ctx, d_outputs):
        hs, gates, recurrent_n, recurrent_kernel, recurrent_masks, mask = ctx.saved_tensors
        steps, _, n, u = gates.shape
        r, z, c = gates.unbind(1)
        # h' = z h + (1 - z) c,  c = tanh(x_n + r * rec_n),  r = sig(x_r + rec_r),  z = sig(x_z + rec_z)
        d_c = (1 - z) * (1 - c * c)  # d h' / d(x_n + r * rec_n)
        d_r = d_c * recurrent_n * r * (1 - r)
        d_z = (hs[:-1] - c) * z * (1 - z)
        rec_factors = torch.stack([d_r, d_z, d_c * r], dim=2)  # (T, N, 3, u)
        float_mask = None if mask is None else mask.to(hs.dtype)
        with _threads_for(hs, u):
            d_rec, d_new, dh0 = _backward_loop(d_outputs.contiguous(), rec_factors, z, recurrent_kernel.detach(),
                                               recurrent_masks, float_mask)
        rows = d_rec.view(steps * n, 3 * u)  # every (step, sample) row: the three gates' recurrent gradients
        if recurrent_masks is None:
            d_kernel = rows.t().mm(hs[:-1].reshape(steps * n, u))
        else:
            previous = (hs[:-1].unsqueeze(1) * recurrent_masks.unsqueeze(0)).transpose(0, 1).reshape(3, -1, u)
            flat = d_rec.permute(2, 0, 1, 3).reshape(3, steps * n, u)
            d_kernel = torch.bmm(flat.transpose(1, 2), previous).reshape(3 * u, u)
        d_bias = rows.sum(0)
        d_rec[:, :, 2] = d_new * d_c  # the candidate's input part: d(x_n), no r factor
        d_xz = d_rec.transpose(1, 2)  # (T, 3, N, u), xz's layout
        return d_xz, dh0, d_kernel, d_bias, None, None


def run(core, x, states, mask, input_masks, recurrent_masks, return_sequences, zero_output_for_mask):
    """The GRU (reset_after, tanh / sigmoid) over x (N, T, F); same contract as `sequence.step_loop`."""
    n, steps, _ = x.shape
    u = core.units
    xz = core._input_projection(x, input_masks).view(n, steps, 3, u).permute(1, 2, 0, 3)  # (T, 3, N, u)
    step_mask = None if mask is None else mask.transpose(0, 1).unsqueeze(-1).contiguous()
    masks = None
    if recurrent_masks is not None:  # Keras's gate order z, r, h -> torch's r, z, n
        masks = torch.stack([recurrent_masks[k] for k in core._torch_order]).contiguous()
    bias = core.bias[1] if core.use_bias else core.kernel.new_zeros(3 * u)
    h0, kernel, bias, masks = in_compute_dtype(xz, states[0], core.recurrent_kernel, bias, masks)
    outputs = _GRUSequence.apply(xz.contiguous(), h0.contiguous(), kernel, bias, masks, step_mask)
    return keras_outputs(outputs, step_mask, zero_output_for_mask, return_sequences) + ([outputs[-1]],)
