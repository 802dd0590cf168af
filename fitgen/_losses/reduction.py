"""Rank matching and the weighted reduction of per-sample losses, as tf-keras's `losses_utils`.

The engine reduces every output's loss with `compute_weighted_loss`: `sum(w * l) / l.numel()` (tf-keras's
SUM_OVER_BATCH_SIZE), so zero weights dilute the mean rather than being left out of it (Keras 2.2.4 divided by
the count of non-zero weights; tf-keras and Keras 2.3 divide by the element count).
"""
import torch


class Reduction:
    """Names of the ways a loss object reduces its per-sample values (`keras.losses.Reduction`)."""

    AUTO = "auto"
    NONE = "none"
    SUM = "sum"
    SUM_OVER_BATCH_SIZE = "sum_over_batch_size"

    @classmethod
    def all(cls):
        return (cls.AUTO, cls.NONE, cls.SUM, cls.SUM_OVER_BATCH_SIZE)

    @classmethod
    def validate(cls, key):
        if key not in cls.all():
            raise ValueError(f"Invalid Reduction Key: {key!r}. Expected one of {cls.all()}.")


def remove_squeezable_dimensions(labels, predictions):
    """Drops a trailing size-1 axis from whichever of the two has one rank too many."""
    rank_diff = predictions.dim() - labels.dim()
    if rank_diff == 1 and predictions.shape[-1] == 1:
        predictions = predictions.squeeze(-1)
    elif rank_diff == -1 and labels.shape[-1] == 1:
        labels = labels.squeeze(-1)
    return labels, predictions


def squeeze_or_expand_dimensions(y_pred, y_true=None, sample_weight=None):
    """Aligns ranks the way tf-keras does before a loss or metric is computed.

    `y_true`/`y_pred` lose a trailing size-1 axis when their ranks differ by one (unless `y_pred` has exactly one
    more axis of size > 1, the sparse-label layout). `sample_weight` loses a trailing axis if it has one rank more
    than `y_pred`, and gains trailing axes if it has fewer, so `(N,)` weights meet `(N, T)` values as `(N, 1)`.

    Returns:
        `(y_pred, y_true)` without `sample_weight`, else `(y_pred, y_true, sample_weight)`.
    """
    if y_true is not None and (y_pred.dim() - y_true.dim() != 1 or (y_pred.dim() and y_pred.shape[-1] == 1)):
        y_true, y_pred = remove_squeezable_dimensions(y_true, y_pred)
    if sample_weight is None:
        return y_pred, y_true
    weight_rank = sample_weight.dim()
    if weight_rank and weight_rank - y_pred.dim() == 1:
        sample_weight = sample_weight.squeeze(-1)
    elif weight_rank and weight_rank < y_pred.dim():
        sample_weight = sample_weight.reshape(tuple(sample_weight.shape) + (1,) * (y_pred.dim() - weight_rank))
    return y_pred, y_true, sample_weight


def as_weights(sample_weight, like):
    """`sample_weight` as a tensor of `like`'s dtype and device, or a Python number left as it is.

    NOTE: numbers stay numbers because `torch.as_tensor(3.0, device='cuda')` is a host-to-device copy that
    synchronises the stream; multiplying by a Python scalar costs nothing.
    """
    if isinstance(sample_weight, (int, float)):
        return float(sample_weight)
    return torch.as_tensor(sample_weight, dtype=like.dtype, device=like.device)


def match_dtype_and_rank(y_true, y_pred, sample_weight=None):
    """What tf-keras's engine does to one output's data before its loss and metrics see it.

    `(N,)` targets and weights meet a `(N, C)` output as `(N, 1)`; float targets take the output's float dtype
    (integer targets stay integers for sparse losses); weights take the output's dtype.
    """
    if y_true.dim() == 1 and y_pred.dim() == 2:
        y_true = y_true.unsqueeze(-1)
    if y_true.is_floating_point() == y_pred.is_floating_point() and y_true.dtype != y_pred.dtype:
        y_true = y_true.to(y_pred.dtype)
    if sample_weight is not None:
        sample_weight = as_weights(sample_weight, y_pred)
        if isinstance(sample_weight, torch.Tensor) and sample_weight.dim() == 1 and y_pred.dim() == 2:
            sample_weight = sample_weight.unsqueeze(-1)
    return y_true, y_pred, sample_weight


def reduce_weighted_loss(weighted_losses, reduction=Reduction.SUM_OVER_BATCH_SIZE):
    if reduction == Reduction.NONE:
        return weighted_losses
    total = weighted_losses.sum()
    if reduction == Reduction.SUM:
        return total
    # Element count, not count of non-zero weights; an empty batch gives 0 rather than NaN (divide_no_nan).
    return total / max(weighted_losses.numel(), 1)


def compute_weighted_loss(values, sample_weight=None, reduction=Reduction.SUM_OVER_BATCH_SIZE):
    """Weights per-sample losses and reduces them as tf-keras does.

    Args:
        values: per-sample loss tensor, e.g. `(N,)` or `(N, T)`.
        sample_weight: None, a scalar, or a tensor/array broadcastable to `values` after rank matching
            (`(N,)` against `(N, T)` acts as `(N, 1)`; `(N, 1)` against `(N,)` is squeezed).
        reduction: `'sum_over_batch_size'` (or `'auto'`): `sum(w * l) / l.numel()`; `'sum'`; `'none'`.

    Returns:
        A 0-d tensor (or the weighted values for `'none'`), differentiable with respect to `values`.
    """
    Reduction.validate(reduction)
    if reduction == Reduction.AUTO:
        reduction = Reduction.SUM_OVER_BATCH_SIZE
    if not values.is_floating_point():
        values = values.to(torch.float32)
    if sample_weight is not None:
        sample_weight = as_weights(sample_weight, values)
        if isinstance(sample_weight, torch.Tensor):
            values, _, sample_weight = squeeze_or_expand_dimensions(values, None, sample_weight)
        values = values * sample_weight
    return reduce_weighted_loss(values, reduction)


def apply_mask(y_pred, sample_weight, mask):
    """Multiplies `sample_weight` by a Keras mask (bool tensor), or returns the mask as weights if none given."""
    if mask is None:
        return sample_weight
    mask = mask.to(y_pred.dtype)
    if sample_weight is None:
        return mask
    sample_weight = as_weights(sample_weight, mask)
    if isinstance(sample_weight, torch.Tensor):
        mask, _, sample_weight = squeeze_or_expand_dimensions(mask, None, sample_weight)
    return sample_weight * mask


def apply_valid_mask(losses, sample_weight, mask, reduction):
    """As `apply_mask`, rescaled so that a mean reduction averages over the unmasked entries only."""
    if mask is None:
        return sample_weight
    mask = mask.to(losses.dtype)
    if reduction in (Reduction.AUTO, Reduction.SUM_OVER_BATCH_SIZE):
        # Matches tf-keras: total / valid; a fully masked batch gives inf * 0 = NaN there too.
        mask = mask * (mask.numel() / mask.sum())
    return apply_mask(losses, sample_weight, mask)
