"""A built-in loss's batch mean in one torch kernel, for the engine's steps (no sample weights, no masks).

The general path computes per-sample losses (`reduction='none'`), then their mean: two autograd nodes where torch
has one fused kernel (and for soft-label crossentropy, four: log-softmax, product, row sum, mean). On a small
model those extra nodes cost more than the layers. `fused_mean_for(fn, options)` looks at the compiled loss once and
returns a function `(y_true, y_pred) -> 0-d loss` computing the same mean from the logits a softmax or sigmoid
output carries (or from the output itself for `from_logits=True`), or None for a loss it cannot fuse. The
function returns None for a batch outside the layouts it handles, and the engine then takes the general path.

The mean is the same number up to float rounding (the sum runs in another order), the same as tf-keras's to
the parity tests' tolerance.
"""
import torch
import torch.nn.functional as F

from fitgen._losses import functions


def _logits(y_pred, from_logits):
    """The pre-activation of a softmax/sigmoid output, the output itself when it is logits, or None."""
    if not isinstance(y_pred, torch.Tensor):
        return None
    carried = getattr(y_pred, "_keras_logits", None)
    if from_logits:
        return y_pred if carried is None else None  # both: the general path warns about it
    if carried is not None and carried.dtype != y_pred.dtype and carried.is_floating_point():
        carried = carried.to(y_pred.dtype)  # half-precision logits of a float32 softmax (mixed precision)
    return carried


def _target(y_true, like):
    """`y_true` in `like`'s dtype (the general path's cast) when the shapes agree, else None."""
    if not isinstance(y_true, torch.Tensor) or y_true.shape != like.shape or y_true.device != like.device:
        return None
    return y_true if y_true.dtype == like.dtype else y_true.to(like.dtype)


def _categorical(from_logits):
    def mean_loss(y_true, y_pred):
        logits = _logits(y_pred, from_logits)
        if logits is None or logits.dim() < 2 or logits.shape[-1] < 2 or not logits.is_floating_point():
            return None
        target = _target(y_true, logits)
        if target is None:
            return None
        rows = logits.numel() // logits.shape[-1]
        # -sum(y * log_softmax(z)) / rows: one dot product instead of a product, a row sum and a mean.
        log_probs = torch.log_softmax(logits, dim=-1)
        return torch.dot(log_probs.reshape(-1), target.reshape(-1)).div(-rows)
    return mean_loss


def _sparse(from_logits):
    def mean_loss(y_true, y_pred):
        logits = _logits(y_pred, from_logits)
        if logits is None or logits.dim() < 2 or not logits.is_floating_point():
            return None
        if not isinstance(y_true, torch.Tensor) or y_true.device != logits.device:
            return None
        classes = logits.shape[-1]
        rows = logits.numel() // classes
        if y_true.numel() != rows or y_true.shape[:logits.dim() - 1] != logits.shape[:-1]:
            return None
        # (reshapes only where needed: a reshape of the logits is one more autograd node every step)
        logits = logits if logits.dim() == 2 else logits.reshape(rows, classes)
        labels = y_true if y_true.dim() == 1 else y_true.reshape(rows)
        return F.cross_entropy(logits, labels if labels.dtype == torch.int64 else labels.long())
    return mean_loss


def _binary(from_logits):
    def mean_loss(y_true, y_pred):
        logits = _logits(y_pred, from_logits)
        if logits is None or logits.dim() < 1 or not logits.is_floating_point():
            return None
        target = _target(y_true, logits)
        if target is None:
            return None
        return F.binary_cross_entropy_with_logits(logits, target)
    return mean_loss


def _mean_squared_error(y_true, y_pred):
    if not isinstance(y_pred, torch.Tensor) or not y_pred.is_floating_point() or y_pred.dim() < 1:
        return None
    target = _target(y_true, y_pred)
    if target is None:
        return None
    return F.mse_loss(y_pred, target)


# The loss function -> (builder of the fused mean from the loss's options, the options it accepts with the
# values it needs; `from_logits` is passed to the builder).
_FUSABLE = {
    functions.categorical_crossentropy: (_categorical, {"label_smoothing": (0, 0.0), "axis": (-1,)}),
    functions.sparse_categorical_crossentropy: (_sparse, {"ignore_class": (None,), "axis": (-1,)}),
    functions.binary_crossentropy: (_binary, {"label_smoothing": (0, 0.0), "axis": (-1,)}),
}


def fused_mean_for(fn, options=None):
    """The fused batch-mean function for loss function `fn` called with keyword `options`, or None.

    Only tf-keras's default options fuse (no label smoothing, the last axis, no ignored class); anything else
    keeps the general path. Loss objects answer through `Loss.fused_mean()`.
    """
    options = dict(options or {})
    if fn is functions.mean_squared_error and not options:
        return _mean_squared_error
    try:
        entry = _FUSABLE.get(fn)
    except TypeError:  # an unhashable callable
        return None
    if entry is None:
        return None
    build, accepted = entry
    from_logits = bool(options.pop("from_logits", False))
    for key, value in options.items():
        if key not in accepted or value not in accepted[key]:
            return None
    return build(from_logits)
