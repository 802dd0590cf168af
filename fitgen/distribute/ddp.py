"""What the data-parallel strategy (strategy.py) uses: a DDP-wrapped forward, rank-aware metrics, agreed stop
decisions.

The single-process path never imports torch's DistributedDataParallel.

* `prepare_model`: the model lives on this rank's device before any adapter is built.
* `make_train_step`: fitgen's own train step, with the forward run through DistributedDataParallel
  (torch all-reduces the gradients during backward) and the loss scaled as sharding.py explains.
* `reduce_metrics`: the running sums (which skip stand-in batches, see strategy.py) are all-reduced once per
  epoch (loss and per-output sums, sample counts, and every metric's `variables`, which are all sums
  or counts), so every rank logs the global values of exactly the data set.
* `aggregating_gradients`: a model's own `train_step` does not run through DDP; its optimizer steps average
  the gradients over the ranks instead.
* `stop_callback`: the last callback; it makes `model.stop_training` the same on every rank (any rank
  asking to stop stops all), at each batch end when a user callback could set it mid-epoch, and at
  each epoch end.
"""
import contextlib

import torch

from fitgen.callbacks.callback import Callback
from fitgen.callbacks.callback_list import _overrides
from fitgen.engine import step as step_module
from fitgen.optimizers import optimizer as optimizer_module

_ddp_options = {}


def set_ddp_options(**kwargs):
    """Extra keyword arguments for `torch.nn.parallel.DistributedDataParallel` in later fits.

    E.g. `set_ddp_options(find_unused_parameters=True)` for a model whose loss ignores some weights
    (an output without targets), or `bucket_cap_mb=50`. Call with no argument to restore the defaults.
    """
    _ddp_options.clear()
    _ddp_options.update(kwargs)


class _Forward(torch.nn.Module):
    """The module DDP wraps: its forward is the model's own `_forward` (a list in, a list out)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, inputs):
        return self.model._forward(inputs)


def prepare_model(context, model):
    """Moves the model (and its metrics) to this rank's device when it is elsewhere."""
    if model._device() != context.device:
        model.to(context.device)
        for metric in model.metrics:
            if hasattr(metric, "to"):
                metric.to(context.device)


def wrap(context, model):
    """A DistributedDataParallel around `model._forward`; building it broadcasts rank 0's weights."""
    from torch.nn.parallel import DistributedDataParallel
    device_ids = [context.device.index] if context.device.type == "cuda" else None
    return DistributedDataParallel(_Forward(model), device_ids=device_ids, **_ddp_options)


def make_train_step(context, model, adapter):
    """The distributed train step of one fit. The model's plain step stays cached for train_on_batch."""
    model._make_train_step()  # builds the optimizer's slots and the lists of trainable tensors
    return step_module.make_train_step(model, forward=wrap(context, model), loss_scale=adapter.loss_scale)


@contextlib.contextmanager
def aggregating_gradients(context, adapter):
    """While a model's own `train_step` runs, every optimizer step uses the gradient of the global batch.

    Each rank's gradients are scaled as its loss would be under DDP (sharding.py: n_r * world / n_global, 0 for
    a stand-in batch), summed over ranks in one collective and divided by the world size.
    """
    def aggregate(grads):
        present = [i for i, g in enumerate(grads) if g is not None]
        if not present:
            return grads
        scale = adapter.loss_scale() / context.world_size
        flat = torch.cat([grads[i].reshape(-1) for i in present]) * scale
        total = context.all_reduce_sum(flat)
        out = list(grads)
        for i, piece in zip(present, torch.split(total, [grads[i].numel() for i in present])):
            out[i] = piece.reshape(grads[i].shape)
        return out

    with optimizer_module.gradient_aggregation(aggregate):
        yield


def reduce_metrics(context, metrics):
    """Replaces every running sum of `metrics` by its sum over all ranks (one collective)."""
    device = context.device
    slots = [("loss_sum", None)] + [("output_sums", i) for i in range(len(metrics.output_sums))]
    local = []
    for name, index in slots:
        value = getattr(metrics, name) if index is None else metrics.output_sums[index]
        local.append(torch.zeros(1, dtype=torch.float64, device=device) if value is None
                     else value.detach().reshape(1).to(device, torch.float64))
    local.append(torch.tensor([float(metrics.count)], dtype=torch.float64, device=device))
    variables = [v for m in metrics._all_metrics() for v in m.variables]
    local += [v.detach().reshape(-1).to(device, torch.float64) for v in variables]
    total = context.all_reduce_sum(torch.cat(local))
    pieces = list(torch.split(total, [t.numel() for t in local]))
    dtype = next((v.dtype for v in (metrics.loss_sum, *metrics.output_sums) if v is not None), torch.float32)
    had = [metrics.loss_sum is not None] + [s is not None for s in metrics.output_sums]
    metrics.loss_sum = pieces[0].reshape(()).to(dtype)
    metrics.output_sums = [pieces[1 + i].reshape(()).to(dtype) if had[1 + i] or pieces[1 + i].item() else None
                           for i in range(len(metrics.output_sums))]
    metrics.count = round(pieces[len(slots)].item())
    for variable, piece in zip(variables, pieces[len(slots) + 1:]):
        with torch.no_grad():
            variable.copy_(piece.reshape(variable.shape).to(variable.dtype))


class _EpochStopSync(Callback):
    _lazy_batch_logs = True  # never materialises batch logs

    def __init__(self, context):
        super().__init__()
        self.context = context

    def _sync(self):
        self.model.stop_training = self.context.any(bool(self.model.stop_training))

    def on_epoch_end(self, epoch, logs=None):
        self._sync()


class _BatchStopSync(_EpochStopSync):
    def on_train_batch_end(self, batch, logs=None):
        self._sync()


_MID_EPOCH_HOOKS = ("on_train_batch_begin", "on_train_batch_end")


def stop_callback(context, user_callbacks, model):
    """The callback that keeps `stop_training` identical on all ranks, syncing per batch only if needed.

    The choice depends only on the user's callbacks (the same on every rank), never on rank-0-only ones
    such as the progress bar, so all ranks enter the same collectives.
    """
    mid_epoch = any(_overrides(c, hook) for c in (user_callbacks or []) for hook in _MID_EPOCH_HOOKS)
    callback = (_BatchStopSync if mid_epoch else _EpochStopSync)(context)
    callback.set_model(model)
    return callback
