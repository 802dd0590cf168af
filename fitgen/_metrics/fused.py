"""One compare-and-count per batch for the built-in accuracies, when no sample weight and no mask applies.

The general path (`MeanMetricWrapper.update_state`) casts both tensors to the metric's dtype, aligns their ranks,
builds a float tensor of per-sample matches, then sums and counts it through `Reduce`, a dozen small ops and as
many Python layers. Without weights the running mean only needs two numbers per batch: how many matched and how
many were compared. The functions here compute the same boolean matches with the same comparisons and add the
two numbers straight into the metric's `total` and `count`.

The result is the same to the last bit: a float32 (or float64) sum of 0/1 values is exact below 2**24 terms, so
adding the integer count gives the float the general path adds. Each function returns False, having touched
nothing, for inputs outside the layouts it handles (other ranks, devices, dtypes); the caller then takes the
general path, which also raises the errors for bad shapes.
"""
import torch

from fitgen._metrics import functions

_EXACT_DTYPES = (torch.float32, torch.float64)
_MAX_EXACT = 2 ** 24


def _cast(tensor, dtype):
    # The general path compares values cast to the metric's dtype; so do we.
    return tensor if tensor.dtype == dtype else tensor.to(dtype)


def _add(metric, hits, count):
    if count >= _MAX_EXACT:
        return False
    metric.total.add_(hits.sum(dtype=metric.total.dtype))  # summed in the total's dtype: no cast kernel
    metric.count.add_(count)
    return True


def _same_shape(y_true, y_pred):
    return y_true.shape == y_pred.shape and y_pred.dim() >= 1


def _labels(y_true, y_pred, dtype):
    """Integer-class labels aligned with `y_pred.shape[:-1]`, or None for a layout the general path must judge."""
    if y_pred.dim() < 2 or y_pred.shape[-1] < 2:
        return None
    if y_true.shape == y_pred.shape[:-1]:
        labels = y_true
    elif y_true.dim() == y_pred.dim() and y_true.shape[-1] == 1 and y_true.shape[:-1] == y_pred.shape[:-1]:
        labels = y_true.squeeze(-1)
    else:
        return None
    # Float labels are compared in the metric's dtype, as the general path does; integer labels exactly (the
    # general path's float32 copy of an integer below 2**24 is exact, so the comparison is the same).
    return _cast(labels, dtype) if labels.is_floating_point() else labels


def accuracy(metric, y_true, y_pred):
    if not _same_shape(y_true, y_pred):
        return False
    dtype = metric._dtype
    return _add(metric, _cast(y_true, dtype) == _cast(y_pred, dtype), y_pred.numel())


def binary_matches(metric, y_true, y_pred, threshold=0.5):
    if not _same_shape(y_true, y_pred):
        return False
    dtype = metric._dtype
    y_pred = _cast(y_pred, dtype)
    return _add(metric, _cast(y_true, dtype) == (y_pred > threshold).to(dtype), y_pred.numel())


def binary_accuracy(metric, y_true, y_pred, threshold=0.5):
    if not _same_shape(y_true, y_pred) or y_pred.shape[-1] != 1:
        return False  # a mean over a longer last axis is a fraction, not a count
    return binary_matches(metric, y_true, y_pred, threshold)


def categorical_accuracy(metric, y_true, y_pred):
    if not _same_shape(y_true, y_pred):
        return False
    dtype = metric._dtype
    hits = torch.argmax(_cast(y_true, dtype), dim=-1) == torch.argmax(_cast(y_pred, dtype), dim=-1)
    return _add(metric, hits, hits.numel())


def sparse_categorical_accuracy(metric, y_true, y_pred):
    dtype = metric._dtype
    labels = _labels(y_true, y_pred, dtype)
    if labels is None:
        return False
    hits = labels == torch.argmax(_cast(y_pred, dtype), dim=-1)
    return _add(metric, hits, hits.numel())


def top_k_categorical_accuracy(metric, y_true, y_pred, k=5):
    if not _same_shape(y_true, y_pred) or y_pred.dim() < 2:
        return False
    dtype = metric._dtype
    scores = _cast(y_pred, dtype).reshape(-1, y_pred.shape[-1])
    hits = functions.top_k_hits(torch.argmax(_cast(y_true, dtype), dim=-1).reshape(-1), scores, k)
    return _add(metric, hits, hits.numel())


def sparse_top_k_categorical_accuracy(metric, y_true, y_pred, k=5):
    dtype = metric._dtype
    labels = _labels(y_true, y_pred, dtype)
    if labels is None:
        return False
    scores = _cast(y_pred, dtype).reshape(-1, y_pred.shape[-1])
    hits = functions.top_k_hits(labels.reshape(-1).long(), scores, k)
    return _add(metric, hits, hits.numel())


# The per-sample function a MeanMetricWrapper holds -> its fused update.
_FUSED = {
    functions.accuracy: accuracy,
    functions.binary_matches: binary_matches,
    functions.binary_accuracy: binary_accuracy,
    functions.categorical_accuracy: categorical_accuracy,
    functions.sparse_categorical_accuracy: sparse_categorical_accuracy,
    functions.sparse_categorical_matches: sparse_categorical_accuracy,
    functions.top_k_categorical_accuracy: top_k_categorical_accuracy,
    functions.sparse_top_k_categorical_accuracy: sparse_top_k_categorical_accuracy,
    functions.sparse_top_k_categorical_matches: sparse_top_k_categorical_accuracy,
}


def fused_update_for(fn, dtype):
    """The fused update for a metric of per-sample function `fn` keeping its state in `dtype`, or None."""
    if dtype not in _EXACT_DTYPES:
        return None
    try:
        return _FUSED.get(fn)
    except TypeError:  # an unhashable callable
        return None
