"""Per-sample loss functions (`fn(y_true, y_pred) -> tensor reduced over the last axis`), tf-keras 2.21 numerics.

Crossentropies read `y_pred._keras_logits` when the prediction came out of `fitgen.activations.softmax` or
`sigmoid`, exactly as tf-keras's backend does, and then compute from the logits. Like tf-keras, the logits are
taken whichever of the two activations produced them (a softmax output meeting `binary_crossentropy` gives
sigmoid crossentropy of the softmax's logits): that is what tf-keras reports, so fitgen reports it too.
"""
import math
import warnings

import torch
import torch.nn.functional as F

from fitgen import backend
from fitgen.backend.dispatch import keras_op
from fitgen.backend.nn_ops import logits_of

_LOG_2 = math.log(2.0)


def _prepare(y_true, y_pred):
    """`y_pred` as a tensor, `y_true` cast to its dtype and device (free when they already match)."""
    if not isinstance(y_pred, torch.Tensor):
        y_pred = torch.as_tensor(y_pred, dtype=backend.torch_dtype())
    return torch.as_tensor(y_true, dtype=y_pred.dtype, device=y_pred.device), y_pred


@keras_op("losses.mean_squared_error")
def mean_squared_error(y_true, y_pred):
    y_true, y_pred = _prepare(y_true, y_pred)
    return torch.mean(torch.square(y_pred - y_true), dim=-1)


@keras_op("losses.mean_absolute_error")
def mean_absolute_error(y_true, y_pred):
    y_true, y_pred = _prepare(y_true, y_pred)
    return torch.mean(torch.abs(y_pred - y_true), dim=-1)


@keras_op("losses.mean_absolute_percentage_error")
def mean_absolute_percentage_error(y_true, y_pred):
    y_true, y_pred = _prepare(y_true, y_pred)
    diff = torch.abs((y_true - y_pred) / torch.clamp(torch.abs(y_true), min=backend.epsilon()))
    return 100.0 * torch.mean(diff, dim=-1)


@keras_op("losses.mean_squared_logarithmic_error")
def mean_squared_logarithmic_error(y_true, y_pred):
    y_true, y_pred = _prepare(y_true, y_pred)
    eps = backend.epsilon()
    first_log = torch.log(torch.clamp(y_pred, min=eps) + 1.0)
    second_log = torch.log(torch.clamp(y_true, min=eps) + 1.0)
    return torch.mean(torch.square(first_log - second_log), dim=-1)


def _maybe_convert_labels(y_true):
    # {0, 1} labels become {-1, 1}; decided on the device with torch.where, so no host sync.
    is_binary = torch.all((y_true == 0) | (y_true == 1))
    return torch.where(is_binary, 2.0 * y_true - 1.0, y_true)


@keras_op("losses.hinge")
def hinge(y_true, y_pred):
    y_true, y_pred = _prepare(y_true, y_pred)
    y_true = _maybe_convert_labels(y_true)
    return torch.mean(torch.clamp(1.0 - y_true * y_pred, min=0.0), dim=-1)


@keras_op("losses.squared_hinge")
def squared_hinge(y_true, y_pred):
    y_true, y_pred = _prepare(y_true, y_pred)
    y_true = _maybe_convert_labels(y_true)
    return torch.mean(torch.square(torch.clamp(1.0 - y_true * y_pred, min=0.0)), dim=-1)


@keras_op("losses.categorical_hinge")
def categorical_hinge(y_true, y_pred):
    y_true, y_pred = _prepare(y_true, y_pred)
    pos = torch.sum(y_true * y_pred, dim=-1)
    neg = torch.amax((1.0 - y_true) * y_pred, dim=-1)
    return torch.clamp(neg - pos + 1.0, min=0.0)


@keras_op("losses.huber")
def huber(y_true, y_pred, delta=1.0):
    dtype = backend.torch_dtype()
    y_pred = torch.as_tensor(y_pred).to(dtype)
    y_true = torch.as_tensor(y_true, device=y_pred.device).to(dtype)
    error = y_pred - y_true
    abs_error = torch.abs(error)
    quadratic = 0.5 * torch.square(error)
    linear = delta * abs_error - 0.5 * delta * delta
    return torch.mean(torch.where(abs_error <= delta, quadratic, linear), dim=-1)


@keras_op("losses.log_cosh")
def log_cosh(y_true, y_pred):
    y_true, y_pred = _prepare(y_true, y_pred)
    x = y_pred - y_true
    # log(cosh(x)) written so that large |x| does not overflow.
    return torch.mean(x + F.softplus(-2.0 * x) - _LOG_2, dim=-1)


def _check_axis(axis):
    if isinstance(axis, bool) or not isinstance(axis, int):
        raise ValueError(f"`axis` must be of type `int`. Received: axis={axis!r} of type {type(axis).__name__}")


@keras_op("losses.categorical_crossentropy")
def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Crossentropy against one-hot (or soft) targets along `axis`.

    Probabilities are renormalised to sum to 1 and clipped to `[epsilon, 1 - epsilon]` before the log; a
    prediction carrying `_keras_logits` (a softmax output) is computed from its logits instead.
    """
    _check_axis(axis)
    y_true, y_pred = _prepare(y_true, y_pred)
    if y_pred.dim() and y_pred.shape[-1] == 1:
        warnings.warn("In loss categorical_crossentropy, expected y_pred.shape to be (batch_size, num_classes) "
                      f"with num_classes > 1. Received: y_pred.shape={tuple(y_pred.shape)}. Consider using "
                      "'binary_crossentropy' if you only have 2 classes.", SyntaxWarning, stacklevel=2)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / y_true.shape[axis]
    output, from_logits = logits_of(y_pred, from_logits, "Softmax", "categorical_crossentropy", stacklevel=3)
    if from_logits:
        if output.dim() == 2 and axis in (-1, 1) and output.dtype == y_true.dtype:
            # torch's fused kernel computes the same -sum(y * log_softmax(logits)), in one op each way.
            return F.cross_entropy(output, y_true, reduction="none")
        return -torch.sum(y_true * torch.log_softmax(output, dim=axis), dim=axis)
    output = output / torch.sum(output, dim=axis, keepdim=True)
    eps = backend.epsilon()
    output = torch.clamp(output, eps, 1.0 - eps)
    return -torch.sum(y_true * torch.log(output), dim=axis)


@keras_op("losses.sparse_categorical_crossentropy")
def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, axis=-1, ignore_class=None):
    """Crossentropy against integer class labels of shape `y_pred.shape[:-1]` (a trailing 1 is accepted).

    Labels may be integers or integral floats. Probabilities are clipped to `[epsilon, 1 - epsilon]` and, as in
    tf-keras, the clipped log-probabilities go through a log-softmax (renormalising them).
    """
    if not isinstance(y_pred, torch.Tensor):
        y_pred = torch.as_tensor(y_pred, dtype=backend.torch_dtype())
    output, from_logits = logits_of(y_pred, from_logits, "Softmax", "sparse_categorical_crossentropy", stacklevel=3)
    if not from_logits:
        eps = backend.epsilon()
        output = torch.log(torch.clamp(output, eps, 1.0 - eps))
    if axis % output.dim() != output.dim() - 1:
        output = torch.movedim(output, axis, -1)
    labels = torch.as_tensor(y_true, device=output.device)
    out_shape = output.shape[:-1]
    if tuple(labels.shape) != tuple(out_shape):
        if labels.numel() != math.prod(out_shape):
            raise ValueError("sparse_categorical_crossentropy expects integer labels of shape y_pred.shape[:-1] "
                             f"(optionally with a trailing 1). Received: y_true.shape={tuple(labels.shape)}, "
                             f"y_pred.shape={tuple(y_pred.shape)}")
        labels = labels.reshape(out_shape)
    labels = labels.long()
    if ignore_class is None and output.dim() == 2:
        # Fused log-softmax + gather (torch's nll path), identical values, one op forward and backward.
        return F.cross_entropy(output, labels, reduction="none")
    log_probs = torch.log_softmax(output, dim=-1)
    if ignore_class is not None:
        valid = labels != ignore_class
        safe = torch.where(valid, labels, torch.zeros_like(labels))
        losses = -log_probs.gather(-1, safe.unsqueeze(-1)).squeeze(-1) * valid.to(log_probs.dtype)
        losses._keras_mask = valid
        return losses
    return -log_probs.gather(-1, labels.unsqueeze(-1)).squeeze(-1)


@keras_op("losses.binary_crossentropy")
def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Elementwise binary crossentropy, averaged over `axis`.

    Probabilities are clipped to `[epsilon, 1 - epsilon]` and `epsilon` is added again inside the logs, as in
    tf-keras; a prediction carrying `_keras_logits` (a sigmoid output) is computed from its logits instead.
    """
    y_true, y_pred = _prepare(y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    output, from_logits = logits_of(y_pred, from_logits, "Sigmoid", "binary_crossentropy", stacklevel=3)
    if from_logits:
        bce = F.binary_cross_entropy_with_logits(output, y_true, reduction="none")
    else:
        eps = backend.epsilon()
        output = torch.clamp(output, eps, 1.0 - eps)
        bce = -(y_true * torch.log(output + eps) + (1.0 - y_true) * torch.log(1.0 - output + eps))
    return torch.mean(bce, dim=axis)


@keras_op("losses.kl_divergence")
def kl_divergence(y_true, y_pred):
    y_true, y_pred = _prepare(y_true, y_pred)
    eps = backend.epsilon()
    y_true = torch.clamp(y_true, eps, 1.0)
    y_pred = torch.clamp(y_pred, eps, 1.0)
    return torch.sum(y_true * torch.log(y_true / y_pred), dim=-1)


@keras_op("losses.poisson")
def poisson(y_true, y_pred):
    y_true, y_pred = _prepare(y_true, y_pred)
    return torch.mean(y_pred - y_true * torch.log(y_pred + backend.epsilon()), dim=-1)


def l2_normalize(x, axis=-1):
    """`x / sqrt(max(sum(x ** 2), 1e-12))`, as tf.math.l2_normalize."""
    return x * torch.rsqrt(torch.clamp(torch.sum(torch.square(x), dim=axis, keepdim=True), min=1e-12))


@keras_op("losses.cosine_similarity")
def cosine_similarity(y_true, y_pred, axis=-1):
    """The NEGATIVE cosine similarity (a loss to minimise): `-sum(l2_normalize(y_true) * l2_normalize(y_pred))`."""
    y_true, y_pred = _prepare(y_true, y_pred)
    return -torch.sum(l2_normalize(y_true, axis) * l2_normalize(y_pred, axis), dim=axis)
