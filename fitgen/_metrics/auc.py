"""AUC (ROC or PR curve) by Riemann sums over a fixed set of thresholds, as tf-keras 2.21 computes it."""
import numpy as np
import torch

from fitgen import backend
from fitgen._metrics.base import Metric
from fitgen._metrics.confusion import _divide_no_nan
from fitgen._metrics.confusion import _evenly_distributed
from fitgen._metrics.confusion import update_confusion_matrix

_CURVES = {"roc": "ROC", "pr": "PR", "pr_gain": "PR_GAIN", "prgain": "PR_GAIN"}
_SUMMATIONS = ("interpolation", "majoring", "minoring")


class AUC(Metric):
    """Area under the ROC or PR curve, approximated over `num_thresholds` thresholds.

    Args:
        num_thresholds: number of thresholds (> 1), evenly spaced in [0, 1] with the ends nudged by epsilon.
        curve: `'ROC'`, `'PR'` or `'PR_GAIN'`.
        summation_method: `'interpolation'` (trapezoids; for PR the Davis & Goadrich interpolation),
            `'minoring'` or `'majoring'`.
        name, dtype: as every metric.
        thresholds: explicit thresholds in [0, 1] (overrides `num_thresholds`).
        multi_label: compute one AUC per label column and average them.
        num_labels: number of labels when `multi_label` (else taken from the first batch).
        label_weights: per-label weights for averaging (multi-label) or counting (single label).
        from_logits: apply a sigmoid to the predictions first.
    """

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation", name=None, dtype=None,
                 thresholds=None, multi_label=False, num_labels=None, label_weights=None, from_logits=False):
        curve_key = str(curve).lower()
        if curve_key not in _CURVES:
            raise ValueError(f'Invalid AUC curve value: "{curve}". Expected values are ["PR", "ROC", "PR_GAIN"]')
        if str(summation_method).lower() not in _SUMMATIONS:
            raise ValueError(f'Invalid AUC summation method value: "{summation_method}". Expected values are '
                             '["interpolation", "majoring", "minoring"]')
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            self.num_thresholds = len(thresholds) + 2
            thresholds = sorted(float(t) for t in thresholds)
            self._evenly = _evenly_distributed(np.array([0.0] + thresholds + [1.0]))
        else:
            if num_thresholds <= 1:
                raise ValueError(f"Argument `num_thresholds` must be an integer > 1. "
                                 f"Received: num_thresholds={num_thresholds}")
            self.num_thresholds = int(num_thresholds)
            thresholds = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            self._evenly = True
        epsilon = backend.epsilon()
        self._thresholds = [0.0 - epsilon] + thresholds + [1.0 + epsilon]
        self.curve = _CURVES[curve_key]
        self.summation_method = str(summation_method).lower()
        super().__init__(name=name, dtype=dtype)
        self.multi_label = multi_label
        self.num_labels = num_labels
        if label_weights is not None:
            label_weights = torch.as_tensor(label_weights, dtype=self._dtype)
            if bool((label_weights < 0).any()):
                raise ValueError("All values of `label_weights` must be non-negative.")
        self.label_weights = label_weights
        self._from_logits = from_logits
        self._built = False
        if multi_label:
            if num_labels:
                self._build(num_labels)
        elif num_labels:
            raise ValueError("`num_labels` is needed only when `multi_label` is True.")
        else:
            self._build(None)

    @property
    def thresholds(self):
        return list(self._thresholds)

    def _build(self, num_labels):
        shape = (self.num_thresholds, num_labels) if self.multi_label else (self.num_thresholds,)
        self._num_labels = num_labels
        for state in ("true_positives", "true_negatives", "false_positives", "false_negatives"):
            self.add_weight(state, shape=shape)
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        with torch.no_grad():
            y_pred = torch.as_tensor(y_pred)
            if not self._built:
                if y_pred.dim() != 2:
                    raise ValueError(f"`y_pred` must have rank 2 when `multi_label=True`. Found rank "
                                     f"{y_pred.dim()}. Full shape received for `y_pred`: {tuple(y_pred.shape)}")
                self._build(y_pred.shape[1])
            self._follow(y_pred)
            if self.label_weights is not None and self.label_weights.device != self._device:
                self.label_weights = self.label_weights.to(self._device)
            if self._from_logits:
                y_pred = torch.sigmoid(y_pred)
            update_confusion_matrix(
                {"tp": self.true_positives, "tn": self.true_negatives, "fp": self.false_positives,
                 "fn": self.false_negatives}, y_true, y_pred, self._thresholds, evenly=self._evenly,
                sample_weight=sample_weight, multi_label=self.multi_label,
                label_weights=None if self.multi_label else self.label_weights)

    def _average_labels(self, by_label):
        if self.label_weights is None:
            return by_label.mean()
        weights = self.label_weights.to(by_label.device)
        return _divide_no_nan((by_label * weights).sum(), weights.sum())

    def _interpolate_pr_auc(self):
        tp, fp, fn = self.true_positives, self.false_positives, self.false_negatives
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        prec_slope = _divide_no_nan(dtp, torch.clamp(dp, min=0))
        intercept = tp[1:] - prec_slope * p[1:]
        both = (p[:-1] > 0) & (p[1:] > 0)
        safe_p_ratio = torch.where(both, _divide_no_nan(p[:-1], torch.clamp(p[1:], min=0)), torch.ones_like(p[1:]))
        increment = _divide_no_nan(prec_slope * (dtp + intercept * torch.log(safe_p_ratio)),
                                   torch.clamp(tp[1:] + fn[1:], min=0))
        if self.multi_label:
            return self._average_labels(increment.sum(0))
        return increment.sum()

    def result(self):
        if not self._built:
            return torch.zeros((), dtype=self._dtype)
        with torch.no_grad():
            if self.curve == "PR" and self.summation_method == "interpolation":
                return self._interpolate_pr_auc()
            tp, tn, fp, fn = self.true_positives, self.true_negatives, self.false_positives, self.false_negatives
            recall = _divide_no_nan(tp, tp + fn)
            if self.curve == "ROC":
                x, y = _divide_no_nan(fp, fp + tn), recall
            elif self.curve == "PR":
                x, y = recall, _divide_no_nan(tp, tp + fp)
            else:
                scale = _divide_no_nan(tp + fn, fp + tn)
                recall_gain = 1.0 - scale * _divide_no_nan(fn, tp)
                precision_gain = 1.0 - scale * _divide_no_nan(fp, tp)
                x = torch.clamp(torch.where(tp == 0, torch.zeros_like(recall_gain), recall_gain), min=0)
                y = torch.where(tp == 0, torch.ones_like(precision_gain), precision_gain)
            if self.summation_method == "interpolation":
                heights = (y[:-1] + y[1:]) / 2.0
            elif self.summation_method == "minoring":
                heights = torch.minimum(y[:-1], y[1:])
            else:
                heights = torch.maximum(y[:-1], y[1:])
            terms = (x[:-1] - x[1:]) * heights
            if self.multi_label:
                return self._average_labels(terms.sum(0))
            return terms.sum()

    def reset_state(self):
        if self._built:
            super().reset_state()

    def get_config(self):
        label_weights = self.label_weights
        if isinstance(label_weights, torch.Tensor):
            label_weights = label_weights.cpu().numpy().tolist()
        config = {**super().get_config(), "num_thresholds": self.num_thresholds, "curve": self.curve,
                  "summation_method": self.summation_method, "multi_label": self.multi_label,
                  "num_labels": self.num_labels, "label_weights": label_weights, "from_logits": self._from_logits}
        if self._init_from_thresholds:
            config["thresholds"] = self.thresholds[1:-1]
        return config
