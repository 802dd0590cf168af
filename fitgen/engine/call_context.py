"""What layer calls share while they run: where `add_loss` puts its losses.

fitgen's steps run each forward pass inside `collect_losses()`, so the losses added during it (activity
penalties, `add_loss` in a layer's `call`, a model's symbolic losses) are that batch's. A call made outside the
steps (user code calling a layer or a model directly) is collected by the layer itself (`Layer._eager_call`).
"""
import torch

from fitgen.backend import common

# The stack of active collectors; each holds (layer, loss tensor) pairs.
_LOSS_COLLECTORS = []
# Counts top-level calls outside fitgen's steps: a layer keeps the losses of its latest call only.
_EAGER_CALLS = [0]
# Bumped whenever a layer keeps a loss added outside any call, so the steps know to look for it again.
PERSISTENT_LOSSES = [0]


# The learning phase of the code running now (`K.learning_phase()`, kept by the backend): 1 in a train step, 0
# in a test or predict step; a call outside the steps takes the training flag of the layer called.
PHASE = common.PHASE

# True while jit_compile traces a train step (engine/jit_trace.py): tensors then have shapes but no values.
TRACING = [False]


def is_tracing():
    """Whether the running forward pass is being traced into a graph (jit_compile, torch.compile): a check that
    reads tensor values back to the host must be skipped (the compiled kernels check bounds themselves)."""
    return TRACING[0] or torch.compiler.is_compiling()


# The epoch metrics that `add_metric` calls inside a layer's `call` update (innermost last).
_METRIC_SINKS = []


class metrics_sink:
    """Context in which `add_metric` values from inside layer calls update `epoch_metrics` (a fit/evaluate)."""

    def __init__(self, epoch_metrics):
        self.epoch_metrics = epoch_metrics

    def __enter__(self):
        _METRIC_SINKS.append(self.epoch_metrics)
        return self.epoch_metrics

    def __exit__(self, *exc):
        _METRIC_SINKS.pop()


class collect_losses:
    """Context in which the `add_loss` calls of every layer land in one list of (layer, loss) pairs.

    `layer.losses` read inside it (a custom `train_step` passing `regularization_losses=self.losses`) shows the
    losses of the batch being computed.
    """

    def __enter__(self):
        self.losses = []
        _LOSS_COLLECTORS.append(self.losses)
        return self.losses

    def __exit__(self, *exc):
        _LOSS_COLLECTORS.pop()


def collected_loss_values(collected):
    """The loss tensors of a `collect_losses` list, as scalars (a non-scalar loss counts as its mean)."""
    return [value if value.dim() == 0 else value.mean() for _, value in collected]


def as_loss_tensor(value):
    return value if isinstance(value, torch.Tensor) else torch.as_tensor(value, dtype=common.torch_dtype())
