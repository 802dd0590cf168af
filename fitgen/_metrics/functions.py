"""Per-sample metric functions (accuracies, positive cosine similarity), tf-keras 2.21 semantics."""
import numpy as np
import torch

from fitgen import backend
from fitgen._losses.functions import l2_normalize
from fitgen.backend.dispatch import keras_op


def _floatx(matches):
    return matches.to(backend.torch_dtype())


def _tensor(value, **kwargs):
    """A torch tensor from a tensor, array, list or Keras 2 backend variable (`K.variable(...)`)."""
    if not isinstance(value, (torch.Tensor, np.ndarray, list, tuple, int, float)) and hasattr(value, "__array__"):
        value = np.asarray(value)
    return torch.as_tensor(value, **kwargs)


def binary_matches(y_true, y_pred, threshold=0.5):
    """1.0 where `(y_pred > threshold)` equals `y_true`, elementwise."""
    y_pred = _tensor(y_pred)
    y_pred = (y_pred > threshold).to(y_pred.dtype)
    return _floatx(_tensor(y_true, device=y_pred.device) == y_pred)


def sparse_categorical_matches(y_true, y_pred):
    """1.0 where `argmax(y_pred)` equals the integer label (labels `(N,)` or `(N, 1)`, shape kept)."""
    y_pred = _tensor(y_pred)
    y_true = _tensor(y_true, device=y_pred.device)
    original_shape = y_true.shape
    reshape = y_true.dim() == y_pred.dim()
    if reshape:
        if y_true.shape[-1] != 1:
            raise ValueError("Sparse categorical labels must have one axis fewer than the predictions or a last "
                             f"axis of size 1. Received: y_true.shape={tuple(y_true.shape)}, "
                             f"y_pred.shape={tuple(y_pred.shape)}")
        y_true = y_true.squeeze(-1)
    predicted = torch.argmax(y_pred, dim=-1).to(y_true.dtype)
    matches = _floatx(y_true == predicted)
    return matches.reshape(original_shape) if reshape else matches


def sparse_top_k_categorical_matches(y_true, y_pred, k=5):
    """1.0 where the label's score is among the `k` largest (ties at the boundary count as in, as tf's in_top_k)."""
    y_pred = _tensor(y_pred)
    y_true = _tensor(y_true, device=y_pred.device)
    original_shape = y_true.shape
    if y_pred.dim() > 2:
        y_pred = y_pred.reshape(-1, y_pred.shape[-1])
    reshape = y_true.dim() > 1
    matches = _floatx(top_k_hits(y_true.reshape(-1).long(), y_pred, k))
    return matches.reshape(original_shape) if reshape else matches


def top_k_hits(labels, scores, k):
    """Bool `(N,)`: whether label `labels[i]` (int64 `(N,)`) is among the `k` largest of `scores[i]` (`(N, C)`)."""
    num_classes = scores.shape[-1]
    valid = (labels >= 0) & (labels < num_classes)
    target = scores.gather(-1, torch.where(valid, labels, torch.zeros_like(labels)).unsqueeze(-1))
    rank = (scores > target).sum(-1)
    # tf.math.in_top_k answers False for a row holding a non-finite score or an out-of-range label.
    return (rank < k) & valid & torch.isfinite(scores).all(-1)


@keras_op("metrics.accuracy")
def accuracy(y_true, y_pred):
    """Elementwise equality (`keras.metrics.Accuracy`); not reduced over any axis."""
    y_true = _tensor(y_true)
    y_pred = _tensor(y_pred, device=y_true.device)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"accuracy expects y_true and y_pred of the same shape. Received: "
                         f"y_true.shape={tuple(y_true.shape)}, y_pred.shape={tuple(y_pred.shape)}")
    return _floatx(y_true == y_pred.to(y_true.dtype))


@keras_op("metrics.binary_accuracy")
def binary_accuracy(y_true, y_pred, threshold=0.5):
    """Mean over the last axis of `binary_matches`."""
    return torch.mean(binary_matches(y_true, y_pred, threshold), dim=-1)


@keras_op("metrics.categorical_accuracy")
def categorical_accuracy(y_true, y_pred):
    """1.0 where `argmax(y_pred) == argmax(y_true)` (first index wins ties, as tf.argmax)."""
    return sparse_categorical_matches(torch.argmax(_tensor(y_true), dim=-1), y_pred)


@keras_op("metrics.sparse_categorical_accuracy")
def sparse_categorical_accuracy(y_true, y_pred):
    """1.0 where `argmax(y_pred)` equals the integer label; `(N, 1)` labels give `(N,)` values."""
    matches = sparse_categorical_matches(y_true, y_pred)
    if matches.dim() > 1 and matches.shape[-1] == 1:
        matches = matches.squeeze(-1)
    return matches


@keras_op("metrics.top_k_categorical_accuracy")
def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1.0 where the one-hot target's class is among the `k` highest predictions."""
    return sparse_top_k_categorical_matches(torch.argmax(_tensor(y_true), dim=-1), y_pred, k)


@keras_op("metrics.sparse_top_k_categorical_accuracy")
def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1.0 where the integer label is among the `k` highest predictions."""
    return sparse_top_k_categorical_matches(y_true, y_pred, k)


@keras_op("metrics.cosine_similarity")
def cosine_similarity(y_true, y_pred, axis=-1):
    """The POSITIVE cosine similarity along `axis` (the metric; the loss of the same name is its negative)."""
    y_pred = _tensor(y_pred)
    y_true = _tensor(y_true, dtype=y_pred.dtype, device=y_pred.device)
    return torch.sum(l2_normalize(y_true, axis) * l2_normalize(y_pred, axis), dim=axis)
