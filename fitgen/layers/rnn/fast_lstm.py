"""The LSTM's sequence loop with its backward pass written out, for what torch's fused kernel cannot do:
Keras's recurrent dropout (one mask per gate, fixed for the whole sequence) and masked timesteps.

Autograd over a Python step loop records ~25 small ops per timestep and replays them one by one; here the
forward loop runs without recording into preallocated buffers (gates, cell states, outputs) and one
autograd node covers the whole sequence. Its backward loop walks the timesteps in reverse carrying only
dh and dc; everything that does not depend on them (gate derivatives, the recurrent kernel's gradient, the
input projection's gradient) is computed for all timesteps at once, outside the loop.

Shapes inside: T timesteps, N samples, u units; gate-major buffers (T, 4, N, u) so that each step reads
one contiguous (4, N, u) block; the recurrent kernel as four (u, u) blocks, so the per-gate dropout masks of
implementation 1 become one batched matmul per step.
"""
import contextlib

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from fitgen.engine import call_context

# Per-step work (multiply-adds of the recurrent product) below which the CPU loops run on one thread: a
# (4, 32, 128) x (128, 128) step is too small to split, and waiting for a second thread at every one of the
# few hundred small ops per sequence costs more than it saves (several times more on a busy machine).
_SMALL_STEP = 1 << 23


@contextlib.contextmanager
def _threads_for(tensor, units):
    if call_context.is_tracing():  # a traced step (jit_compile) is compiled as a whole; no thread switching
        yield
        return
    threads = torch.get_num_threads()
    small = tensor.device.type == "cpu" and 4 * tensor.shape[-2] * units * units <= _SMALL_STEP
    if not small or threads == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _forward_loop(xz, h0, c0, kernels_t, recurrent_masks, mask):
    """Gates, cell states and outputs of every step. xz: (T, 4, N, u) input projections; kernels_t:
    (4, u_in, u_out); recurrent_masks: (4, N, u) or None; mask: (T, N, 1) booleans or None."""
    steps = xz.shape[0]
    n, u = h0.shape
    hs = xz.new_empty(steps + 1, n, u)
    cs = xz.new_empty(steps + 1, n, u)
    gates = xz.new_empty(steps, 4, n, u)
    tanh_c = xz.new_empty(steps, n, u)
    hs[0] = h0
    cs[0] = c0
    for t in range(steps):
        h = hs[t]
        if recurrent_masks is None:
            z = torch.matmul(h, kernels_t)
        else:
            z = torch.bmm(h.unsqueeze(0) * recurrent_masks, kernels_t)
        z += xz[t]
        g = gates[t]
        torch.sigmoid(z, out=g)
        torch.tanh(z[2], out=g[2])  # i, f, o are sigmoid gates; block 2 is the tanh candidate
        if mask is None:
            c = torch.addcmul(g[1] * cs[t], g[0], g[2], out=cs[t + 1])
            torch.mul(g[3], torch.tanh(c, out=tanh_c[t]), out=hs[t + 1])
        else:
            keep = mask[t]
            c = torch.addcmul(g[1] * cs[t], g[0], g[2])
            h_new = g[3] * torch.tanh(c, out=tanh_c[t])
            torch.where(keep, h_new, h, out=hs[t + 1])
            torch.where(keep, c, cs[t], out=cs[t + 1])
    return hs, cs, gates, tanh_c


def _backward_loop(d_hs, dc, factors, d_c_from_h, forget, kernels, recurrent_masks, mask):
    """d(loss)/d(pre-activation gates) for every step, and the gradients of h0 and c0.

    factors (T, 4, N, u): d z_k / d(dc) for k = i, f, c and d z_o / d(dh); d_c_from_h (T, N, u): d c / d h;
    forget (T, N, u): the forget gate; mask (T, N, 1) as 0/1 floats or None.
    """
    steps = factors.shape[0]
    d_z = torch.empty_like(factors)
    dh = torch.zeros_like(dc)
    for t in range(steps - 1, -1, -1):
        dh = dh + d_hs[t]
        if mask is not None:
            keep = mask[t]
            dh_new, dc_new = dh * keep, dc * keep
            dh_old, dc_old = dh - dh_new, dc - dc_new
        else:
            dh_new, dc_new = dh, dc
        dc_new = torch.addcmul(dc_new, dh_new, d_c_from_h[t])
        step = d_z[t]
        torch.mul(factors[t, :3], dc_new, out=step[:3])
        torch.mul(factors[t, 3], dh_new, out=step[3])
        dc = dc_new * forget[t]
        back = torch.bmm(step, kernels)
        if recurrent_masks is not None:
            back = back * recurrent_masks
        dh = back.sum(0)
        if mask is not None:
            dh = dh + dh_old
            dc = dc + dc_old
    return d_z, dh, dc


class _LSTMSequence(torch.autograd.Function):
    """(xz, h0, c0, recurrent kernel (4u, u) in torch layout, masks) -> (outputs (T, N, u), final c)."""

    @staticmethod
    def forward(ctx, xz, h0, c0, recurrent_kernel, recurrent_masks, mask):
        u = h0.shape[1]
        kernels = recurrent_kernel.detach().view(4, u, u)  # (gate, out, in)
        with _threads_for(h0, u):
            hs, cs, gates, tanh_c = _forward_loop(xz, h0, c0, kernels.transpose(1, 2), recurrent_masks, mask)
        ctx.save_for_backward(hs, cs, gates, tanh_c, recurrent_kernel, recurrent_masks, mask)
        return hs[1:], cs[-1]

    @staticmethod
    @once_differentiable
    def backward(ctx, d_outputs, d_c_last):
        hs, cs, gates, tanh_c, recurrent_kernel, recurrent_masks, mask = ctx.saved_tensors
        steps, _, n, u = gates.shape
        i, f, g, o = gates.unbind(1)
        # Everything that does not depend on the running dh/dc, for all timesteps at once.
        factors = torch.stack([g * i * (1 - i), cs[:-1] * f * (1 - f), i * (1 - g * g),
                               tanh_c * o * (1 - o)], dim=1)
        d_c_from_h = o * (1 - tanh_c * tanh_c)
        if d_outputs is None:
            d_outputs = torch.zeros_like(hs[1:])
        if d_c_last is None:
            d_c_last = torch.zeros_like(hs[0])
        float_mask = None if mask is None else mask.to(hs.dtype)
        with _threads_for(hs, u):
            # (gate, out, in) as a transposed view of a contiguous (gate, in, out): the faster bmm layout.
            kernels = recurrent_kernel.view(4, u, u).transpose(1, 2).contiguous().transpose(1, 2)
            d_z, dh0, dc0 = _backward_loop(d_outputs.contiguous(), d_c_last.contiguous(), factors, d_c_from_h, f,
                                           kernels, recurrent_masks, float_mask)
        previous = hs[:-1].reshape(1, steps * n, u)
        if recurrent_masks is None:
            previous = previous.expand(4, steps * n, u)
        else:
            previous = (hs[:-1].unsqueeze(1) * recurrent_masks.unsqueeze(0)).transpose(0, 1).reshape(4, -1, u)
        d_kernel = torch.bmm(d_z.transpose(0, 1).reshape(4, steps * n, u).transpose(1, 2), previous)
        return d_z, dh0, dc0, d_kernel.reshape(4 * u, u), None, None


def run(core, x, states, mask, input_masks, recurrent_masks, return_sequences, zero_output_for_mask):
    """The LSTM (tanh / sigmoid) over x (N, T, F); same contract as `sequence.step_loop`."""
    n, steps, _ = x.shape
    u = core.units
    kernel, bias = core.kernel, core.bias
    if input_masks is not None and len(input_masks) == 4:
        # Implementation 1: gate k sees the inputs through mask k; still one batched matmul for all steps.
        masked = x.transpose(0, 1).unsqueeze(0) * torch.stack(input_masks).transpose(1, 2)  # (4, T, N, F)
        xz = torch.matmul(masked, kernel.view(4, 1, u, -1).transpose(2, 3))  # (4, T, N, u)
        if bias is not None:
            xz = xz + bias.view(4, 1, 1, u).to(xz.dtype)  # (autocast's compute dtype under mixed precision)
        xz = xz.transpose(0, 1)
    else:
        if input_masks is not None:
            x = x * input_masks[0]
        xz = F.linear(x.transpose(0, 1), kernel, bias).view(steps, n, 4, u).transpose(1, 2)
    step_mask = None if mask is None else mask.transpose(0, 1).unsqueeze(-1).contiguous()
    masks = None if recurrent_masks is None else torch.stack(recurrent_masks).contiguous()
    h0, c0, kernel, masks = in_compute_dtype(xz, *states, core.recurrent_kernel, masks)
    outputs, c_last = _LSTMSequence.apply(xz.contiguous(), h0.contiguous(), c0.contiguous(), kernel, masks,
                                          step_mask)
    return keras_outputs(outputs, step_mask, zero_output_for_mask, return_sequences) + ([outputs[-1], c_last],)


def in_compute_dtype(xz, *tensors):
    """`tensors` (None kept) in the dtype of the input projection `xz`.

    Under a mixed precision policy autocast runs the projection in the compute dtype while the recurrent
    weights, the states and the dropout masks stay float32; the loops' kernels (in place, `out=`) take one
    dtype. The casts are differentiable: autograd brings the gradients back to the float32 weights.
    """
    return [None if t is None else t.to(xz.dtype) for t in tensors]


def keras_outputs(states, step_mask, zero_output_for_mask, return_sequences):
    """(sequence or None, last output) from the loop's states (T, N, u), as Keras reports them under a mask.

    Keras repeats the previous *output* at masked steps, starting from zeros: the outputs before a sample's first
    kept step are zeroed (or every masked step's, with zero_output_for_mask); the states themselves carry over.
    """
    outputs = states
    if step_mask is not None:
        keep = step_mask if zero_output_for_mask else torch.cummax(step_mask.to(torch.uint8), dim=0)[0].bool()
        outputs = outputs * keep.to(outputs.dtype)
    return (outputs.transpose(0, 1) if return_sequences else None), outputs[-1]
