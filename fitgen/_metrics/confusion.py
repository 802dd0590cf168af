"""Confusion-matrix metrics: TruePositives/..., Precision, Recall and AUC, as tf-keras 2.21 computes them.

For evenly spaced thresholds (AUC's default, and any such list) the counts come from one bucketing pass,
`bucket = ceil(p * (T - 1)) - 1`, with reverse cumulative sums: O(N + T) and the same buckets as tf-keras.
Other thresholds compare every prediction against every threshold.
"""
import numpy as np
import torch

from fitgen import backend
from fitgen._losses.reduction import squeeze_or_expand_dimensions
from fitgen._metrics.base import Metric
from fitgen._metrics.base import to_metric_tensor

NEG_INF = -1e10
_CONDITIONS = ("tp", "fp", "tn", "fn")


def _parse_thresholds(thresholds, default):
    values = [default] if thresholds is None else (
        list(thresholds) if isinstance(thresholds, (list, tuple, np.ndarray)) else [thresholds])
    if thresholds is not None:
        invalid = [t for t in values if t is None or t < 0 or t > 1]
        if invalid:
            raise ValueError(f"Threshold values must be in [0, 1]. Received: {invalid}")
    return [float(t) for t in values]


def _evenly_distributed(thresholds):
    count = len(thresholds)
    if count < 3:
        return False
    even = np.arange(count, dtype=np.float32) / (count - 1)
    return bool(np.allclose(thresholds, even, atol=backend.epsilon()))


def _filter_top_k(x, k):
    top = torch.topk(x, k, dim=-1).indices
    mask = torch.zeros_like(x).scatter_(-1, top, 1.0)
    return x * mask + NEG_INF * (1.0 - mask)


def update_confusion_matrix(states, y_true, y_pred, thresholds, evenly=False, top_k=None, class_id=None,
                            sample_weight=None, multi_label=False, label_weights=None):
    """Adds this batch's weighted counts to `states` (a dict from 'tp'/'fp'/'tn'/'fn' to tensors of shape (T,)
    or (T, L) for multi-label), on the device, without a host sync."""
    like = next(iter(states.values()))
    dtype, device = like.dtype, like.device
    y_pred = to_metric_tensor(y_pred, dtype, device)
    y_true = to_metric_tensor(y_true, dtype, device)
    if sample_weight is not None and not isinstance(sample_weight, (int, float)):
        sample_weight = to_metric_tensor(sample_weight, dtype, device)
        y_pred, y_true, sample_weight = squeeze_or_expand_dimensions(y_pred, y_true, sample_weight)
    else:
        y_pred, y_true = squeeze_or_expand_dimensions(y_pred, y_true)
    if y_pred.shape != y_true.shape:
        raise ValueError(f"Confusion-matrix metrics expect y_true and y_pred of the same shape. Received: "
                         f"y_true.shape={tuple(y_true.shape)}, y_pred.shape={tuple(y_pred.shape)}")
    if top_k is not None:
        y_pred = _filter_top_k(y_pred, top_k)
    if class_id is not None:
        y_true = y_true[..., class_id:class_id + 1]
        y_pred = y_pred[..., class_id:class_id + 1]
    weights = 1.0
    if sample_weight is not None:
        weights = (torch.broadcast_to(sample_weight, y_pred.shape) if isinstance(sample_weight, torch.Tensor)
                   else float(sample_weight))
    if label_weights is not None and not multi_label:
        weights = weights * torch.broadcast_to(torch.as_tensor(label_weights, dtype=dtype, device=device),
                                               y_pred.shape)
    if not isinstance(weights, torch.Tensor):
        weights = torch.full_like(y_pred, weights)
    if not multi_label:
        y_true, y_pred, weights = y_true.reshape(-1), y_pred.reshape(-1), weights.reshape(-1)
    positive = (y_true != 0).to(dtype)
    true_labels = positive * weights
    false_labels = (1.0 - positive) * weights
    if evenly:
        tp, fp = _bucketed_counts(y_pred, true_labels, false_labels, thresholds, multi_label)
    else:
        tp, fp = _thresholded_counts(y_pred, true_labels, false_labels, thresholds, dtype)
    if "tp" in states:
        states["tp"].add_(tp)
    if "fp" in states:
        states["fp"].add_(fp)
    if "tn" in states:
        states["tn"].add_(false_labels.sum(0) - fp)
    if "fn" in states:
        states["fn"].add_(true_labels.sum(0) - tp)


def _bucketed_counts(y_pred, true_labels, false_labels, thresholds, multi_label):
    num = len(thresholds)
    with_epsilon = thresholds[0] < 0.0 or thresholds[-1] > 1.0
    buckets = torch.ceil(torch.clamp(y_pred, 0.0, 1.0) * (num - 1)) - 1
    if with_epsilon:
        buckets = torch.relu(buckets)
    # Shift by one so that bucket -1 (a prediction equal to the lowest threshold, counted nowhere) has a slot.
    index = buckets.long() + 1
    if multi_label:
        labels = y_pred.shape[-1]
        index = (index * labels + torch.arange(labels, device=y_pred.device)).reshape(-1)
        shape = (num + 1, labels)
        true_labels, false_labels = true_labels.reshape(-1), false_labels.reshape(-1)
    else:
        shape = (num + 1,)
    size = int(np.prod(shape))
    tp = torch.zeros(size, dtype=y_pred.dtype, device=y_pred.device).index_add_(0, index, true_labels)
    fp = torch.zeros(size, dtype=y_pred.dtype, device=y_pred.device).index_add_(0, index, false_labels)
    tp, fp = tp.reshape(shape)[1:], fp.reshape(shape)[1:]
    return tp.flip(0).cumsum(0).flip(0), fp.flip(0).cumsum(0).flip(0)


def _thresholded_counts(y_pred, true_labels, false_labels, thresholds, dtype):
    limits = torch.tensor(thresholds, dtype=dtype, device=y_pred.device).reshape((-1,) + (1,) * y_pred.dim())
    above = (y_pred.unsqueeze(0) > limits).to(dtype)
    return (above * true_labels).sum(1), (above * false_labels).sum(1)


def _divide_no_nan(a, b):
    return torch.where(b == 0, torch.zeros_like(a), a / torch.where(b == 0, torch.ones_like(b), b))


class _ConfusionMatrixConditionCount(Metric):
    _condition = None

    def __init__(self, thresholds=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds = thresholds
        self.thresholds = _parse_thresholds(thresholds, 0.5)
        self._evenly = _evenly_distributed(self.thresholds)
        self.add_weight("accumulator", shape=(len(self.thresholds),))

    def update_state(self, y_true, y_pred, sample_weight=None):
        with torch.no_grad():
            self._follow(y_pred)
            update_confusion_matrix({self._condition: self.accumulator}, y_true, y_pred, self.thresholds,
                                    evenly=self._evenly, sample_weight=sample_weight)

    def result(self):
        return self.accumulator[0].clone() if len(self.thresholds) == 1 else self.accumulator.clone()

    def get_config(self):
        return {**super().get_config(), "thresholds": self.init_thresholds}


class TruePositives(_ConfusionMatrixConditionCount):
    """Weighted count of positives predicted above each threshold (default 0.5)."""
    _condition = "tp"


class FalsePositives(_ConfusionMatrixConditionCount):
    """Weighted count of negatives predicted above each threshold."""
    _condition = "fp"


class TrueNegatives(_ConfusionMatrixConditionCount):
    """Weighted count of negatives predicted at or below each threshold."""
    _condition = "tn"


class FalseNegatives(_ConfusionMatrixConditionCount):
    """Weighted count of positives predicted at or below each threshold."""
    _condition = "fn"


class _PrecisionRecall(Metric):
    _other = None

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds = thresholds
        self.top_k = top_k
        self.class_id = class_id
        self.thresholds = _parse_thresholds(thresholds, 0.5 if top_k is None else NEG_INF)
        self._evenly = _evenly_distributed(self.thresholds)
        self.add_weight("true_positives", shape=(len(self.thresholds),))
        self.add_weight(self._other, shape=(len(self.thresholds),))

    def update_state(self, y_true, y_pred, sample_weight=None):
        with torch.no_grad():
            self._follow(y_pred)
            key = "fp" if self._other == "false_positives" else "fn"
            update_confusion_matrix({"tp": self.true_positives, key: getattr(self, self._other)}, y_true, y_pred,
                                    self.thresholds, evenly=self._evenly, top_k=self.top_k,
                                    class_id=self.class_id, sample_weight=sample_weight)

    def result(self):
        value = _divide_no_nan(self.true_positives, self.true_positives + getattr(self, self._other))
        return value[0] if len(self.thresholds) == 1 else value

    def get_config(self):
        return {**super().get_config(), "thresholds": self.init_thresholds, "top_k": self.top_k,
                "class_id": self.class_id}


class Precision(_PrecisionRecall):
    """`tp / (tp + fp)` at each threshold (default 0.5), optionally for `top_k` or one `class_id`."""
    _other = "false_positives"


class Recall(_PrecisionRecall):
    """`tp / (tp + fn)` at each threshold (default 0.5), optionally for `top_k` or one `class_id`."""
    _other = "false_negatives"
