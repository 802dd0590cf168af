"""SyncBatchNorm for fitgen's BatchNormalization: training statistics of the global batch, on request.

torch's `nn.SyncBatchNorm.convert_sync_batchnorm` only converts torch's own BatchNorm modules and keeps
torch's running-variance convention; fitgen's layer keeps Keras's (biased variance, `momentum` as the
decay of the moving averages). So each BatchNormalization layer is given a training-mode `call` that
all-reduces per-channel (sum, sum of squares, count) with a differentiable all_reduce (its backward
all-reduces the gradients, so the gradient is that of the global batch), then
normalises with the global mean and biased variance and updates the moving averages with them: the
moving statistics stay identical on every rank. Inference, and any non-distributed run, use the
layer's own `call` unchanged. A stand-in batch (sharding.py) contributes nothing to the statistics.
"""
import types

import torch

from fitgen.distribute.context import current
from fitgen.layers.normalization import BatchNormalization, _pass_mask


def sync_batchnorm(model):
    """Makes every BatchNormalization layer of `model` use the global batch's statistics in training.

    Call it once, before `fit`, in the script every rank runs. Without a process group (one process)
    the layers behave exactly as before, so the same script runs anywhere.

    Args:
        model: a fitgen model (or layer) containing BatchNormalization layers, nested ones included.

    Returns:
        `model` itself, for chaining.

    Raises:
        ValueError: `model` contains no BatchNormalization layer.
    """
    layers = [m for m in model.modules() if isinstance(m, BatchNormalization)]
    if not layers:
        raise ValueError(f"`sync_batchnorm` found no BatchNormalization layer in {getattr(model, 'name', model)!r}.")
    for layer in layers:
        if not getattr(layer, "_synchronized", False):
            layer.call = types.MethodType(_synchronized_call, layer)
            layer._synchronized = True
    return model


class _AllReduceSum(torch.autograd.Function):
    """Sum over ranks whose gradient is the sum over ranks of the incoming gradients (every rank's loss
    depends on the global sum)."""

    @staticmethod
    def forward(ctx, tensor):
        import torch.distributed as dist
        total = tensor.clone()
        dist.all_reduce(total)
        return total

    @staticmethod
    def backward(ctx, grad):
        import torch.distributed as dist
        total = grad.contiguous().clone()
        dist.all_reduce(total)
        return total


def _global_moments(flat, context):
    """Mean and biased variance per column of `flat` (rows, channels) over every rank's rows."""
    weight = 0.0 if context.padding else 1.0
    count = torch.full((1,), flat.shape[0] * weight, dtype=flat.dtype, device=flat.device)
    local = torch.cat([flat.sum(0) * weight, (flat * flat).sum(0) * weight, count])
    shipped = local.to(context.comm_device)
    total = _AllReduceSum.apply(shipped).to(flat.device)
    channels = flat.shape[1]
    n = total[-1].clamp_min(1.0)
    mean = total[:channels] / n
    variance = (total[channels:2 * channels] / n - mean * mean).clamp_min(0.0)
    return mean, variance


def _synchronized_call(self, inputs, training=None):
    context = current()
    training = self.training if training is None else bool(training)
    if context is None or not training or not self.trainable:
        return type(self).call(self, inputs, training=training)
    x, restore = self._channels_first_view(inputs)
    channels = x.shape[1]
    flat = x.movedim(1, -1).reshape(-1, channels)
    mean, variance = _global_moments(flat, context)
    out = (flat - mean) * torch.rsqrt(variance + self.epsilon)
    if self.gamma is not None:
        out = out * self.gamma.reshape(-1)
    if self.beta is not None:
        out = out + self.beta.reshape(-1)
    moved_shape = x.movedim(1, -1).shape
    out = out.reshape(moved_shape).movedim(-1, 1)
    self._update_moving(self.moving_mean.reshape(-1), self.moving_variance.reshape(-1), mean.detach(),
                        variance.detach())
    return _pass_mask(inputs, restore(out))
