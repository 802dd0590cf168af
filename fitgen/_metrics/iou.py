"""MeanIoU: mean intersection-over-union over classes, from an accumulated confusion matrix (tf-keras 2.21)."""
import torch

from fitgen._metrics.base import Metric
from fitgen._metrics.confusion import _divide_no_nan


class MeanIoU(Metric):
    """Mean of per-class IoU = TP / (TP + FP + FN), over the classes that occurred (in labels or predictions).

    Args:
        num_classes: number of classes (the confusion matrix is `num_classes x num_classes`).
        name, dtype: as every metric.
        ignore_class: a label value left out of the counts.
        sparse_y_true / sparse_y_pred: False when that side holds per-class scores (argmax taken along `axis`).
            With `sparse_y_pred=True` the predictions must already be class ids (scores are truncated, as in
            tf-keras).
        axis: the class axis for the argmax.
    """

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None, sparse_y_true=True,
                 sparse_y_pred=True, axis=-1):
        super().__init__(name=name, dtype=dtype)
        self.num_classes = int(num_classes)
        self.ignore_class = ignore_class
        self.sparse_y_true = sparse_y_true
        self.sparse_y_pred = sparse_y_pred
        self.axis = axis
        self.add_weight("total_cm", shape=(self.num_classes, self.num_classes))

    def update_state(self, y_true, y_pred, sample_weight=None):
        with torch.no_grad():
            self._follow(y_pred)
            y_pred = torch.as_tensor(y_pred, device=self._device)
            y_true = torch.as_tensor(y_true, device=self._device)
            if not self.sparse_y_true:
                y_true = torch.argmax(y_true, dim=self.axis)
            if not self.sparse_y_pred:
                y_pred = torch.argmax(y_pred, dim=self.axis)
            # Through the float dtype first, as tf-keras casts, so float class ids truncate the same way.
            y_true = y_true.to(self._dtype).reshape(-1).long()
            y_pred = y_pred.to(self._dtype).reshape(-1).long()
            if sample_weight is None:
                weights = torch.ones(y_true.shape, dtype=self._dtype, device=self._device)
            elif isinstance(sample_weight, (int, float)):
                weights = torch.full(y_true.shape, float(sample_weight), dtype=self._dtype, device=self._device)
            else:
                weights = torch.as_tensor(sample_weight, dtype=self._dtype, device=self._device).reshape(-1)
                weights = torch.broadcast_to(weights, y_true.shape)
            if self.ignore_class is not None:
                # Zero weight instead of boolean indexing: no data-dependent shape, so no host sync.
                weights = weights * (y_true != self.ignore_class).to(self._dtype)
                y_true = torch.where(y_true == self.ignore_class, torch.zeros_like(y_true), y_true)
            index = y_true * self.num_classes + y_pred
            counts = torch.zeros(self.num_classes ** 2, dtype=self._dtype, device=self._device)
            counts.index_add_(0, index, weights)
            self.total_cm.add_(counts.reshape(self.num_classes, self.num_classes))

    def result(self):
        with torch.no_grad():
            true_positives = torch.diagonal(self.total_cm)
            denominator = self.total_cm.sum(0) + self.total_cm.sum(1) - true_positives
            num_valid = (denominator != 0).to(self._dtype).sum()
            return _divide_no_nan(_divide_no_nan(true_positives, denominator).sum(), num_valid)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "ignore_class": self.ignore_class,
                "sparse_y_true": self.sparse_y_true, "sparse_y_pred": self.sparse_y_pred, "axis": self.axis}
