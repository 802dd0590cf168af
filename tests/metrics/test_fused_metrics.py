"""The accuracies' fused compare-and-count (fitgen/_metrics/fused.py) gives the general path's numbers, bit for
bit, on random inputs: every accuracy variant, thresholds and k, and batches with weights or masks mixed in
(which take the general path)."""
import pytest
import torch

from fitgen import metrics
from fitgen._metrics import fused
from fitgen._metrics.base import MeanMetricWrapper
from fitgen.engine.compile_utils import OutputSpec
from fitgen.engine.step import EpochMetrics


def _one_hot(labels, classes):
    return torch.eye(classes)[labels]


def _batch(kind, generator, rows=(37,), classes=6):
    """(y_true, y_pred) of the layout each variant reads, with ties and extreme scores in the predictions."""
    shape = tuple(rows)
    if kind == "binary":
        y_pred = torch.rand(shape + (1,), generator=generator)
        y_pred[0] = 0.5  # exactly at the default threshold
        return (torch.rand(shape + (1,), generator=generator) > 0.5).float(), y_pred
    if kind == "binary_wide":
        return (torch.rand(shape + (3,), generator=generator) > 0.5).float(), torch.rand(shape + (3,), generator=generator)
    scores = torch.randn(shape + (classes,), generator=generator)
    scores[..., 0, 1] = scores[..., 0, 2]  # a tie: the first index wins, in both paths
    labels = torch.randint(0, classes, shape, generator=generator)
    if kind == "categorical":
        return _one_hot(labels, classes), torch.softmax(scores, -1)
    if kind == "sparse":
        return labels, torch.softmax(scores, -1)
    if kind == "sparse_column_float":
        return labels.unsqueeze(-1).float(), scores
    if kind == "elementwise":
        return labels, torch.randint(0, classes, shape, generator=generator)
    raise AssertionError(kind)


VARIANTS = [
    ("BinaryAccuracy", lambda: metrics.BinaryAccuracy(), "binary"),
    ("BinaryAccuracy(0.3)", lambda: metrics.BinaryAccuracy(threshold=0.3), "binary"),
    ("BinaryAccuracy wide", lambda: metrics.BinaryAccuracy(threshold=0.7), "binary_wide"),
    ("binary_accuracy fn", lambda: MeanMetricWrapper(metrics.binary_accuracy, name="acc"), "binary"),
    ("binary_accuracy fn wide", lambda: MeanMetricWrapper(metrics.binary_accuracy, threshold=0.2), "binary_wide"),
    ("CategoricalAccuracy", lambda: metrics.CategoricalAccuracy(), "categorical"),
    ("categorical_accuracy fn", lambda: MeanMetricWrapper(metrics.categorical_accuracy), "categorical"),
    ("SparseCategoricalAccuracy", lambda: metrics.SparseCategoricalAccuracy(), "sparse"),
    ("SparseCategoricalAccuracy column", lambda: metrics.SparseCategoricalAccuracy(), "sparse_column_float"),
    ("sparse_categorical_accuracy fn", lambda: MeanMetricWrapper(metrics.sparse_categorical_accuracy), "sparse"),
    ("TopK(k=2)", lambda: metrics.TopKCategoricalAccuracy(k=2), "categorical"),
    ("top_k fn (k=3)", lambda: MeanMetricWrapper(metrics.top_k_categorical_accuracy, k=3), "categorical"),
    ("SparseTopK(k=2)", lambda: metrics.SparseTopKCategoricalAccuracy(k=2), "sparse"),
    ("SparseTopK column", lambda: metrics.SparseTopKCategoricalAccuracy(k=4), "sparse_column_float"),
    ("Accuracy", lambda: metrics.Accuracy(), "elementwise"),
]


class _GeneralOnly(MeanMetricWrapper):
    """Reference: the same metric with every batch through the general path."""


def _reference(metric):
    ref = _GeneralOnly.__new__(_GeneralOnly)
    ref.__dict__.update({k: v for k, v in metric.__dict__.items()})
    ref._fused = None
    for name in ref._state_names:
        setattr(ref, name, getattr(metric, name).clone().as_subclass(type(getattr(metric, name))))
    return ref


@pytest.mark.parametrize("name,make,kind", VARIANTS, ids=[v[0] for v in VARIANTS])
@pytest.mark.parametrize("rows", [(37,), (5, 7)], ids=["2d", "3d"])
def test_fused_equals_general_bit_for_bit(name, make, kind, rows):
    generator = torch.Generator().manual_seed(7)
    metric = make()
    assert metric._fused is not None, "every accuracy variant has a fused update"
    reference = _reference(metric)
    calls = []
    general = metric._update_general
    metric._update_general = lambda *a, **k: (calls.append(k.get("sample_weight", a[2] if len(a) > 2 else None)),
                                              general(*a, **k))
    for step in range(6):
        y_true, y_pred = _batch(kind, generator, rows)
        weight = None
        if step == 2:  # weighted: the general path
            weight = torch.rand(rows, generator=generator)
        if step == 4:  # masked output: the general path
            y_pred = y_pred.clone()
            y_pred._keras_mask = torch.rand(rows, generator=generator) > 0.3
        metric.update_state(y_true, y_pred, sample_weight=weight)
        reference.update_state(y_true, y_pred, sample_weight=weight)
        assert torch.equal(metric.total, reference.total) and torch.equal(metric.count, reference.count), step
    # binary_accuracy over a last axis longer than 1 averages each row first: a fraction, not a count, so it
    # always takes the general path.
    expected = 6 if name == "binary_accuracy fn wide" else 2
    assert len(calls) == expected, "only the weighted and the masked batches took the general path"
    assert torch.equal(metric.result(), reference.result())


def test_unsupported_layouts_fall_back_to_the_general_path_and_its_errors():
    metric = metrics.SparseCategoricalAccuracy()
    with pytest.raises(ValueError, match="Sparse categorical labels"):
        metric.update_state(torch.zeros(4, 3), torch.rand(4, 5))  # labels of the wrong layout
    binary = MeanMetricWrapper(metrics.binary_accuracy)
    binary.update_state(torch.ones(4), torch.full((4, 1), 0.9))  # (N,) labels meet (N, 1): general path
    reference = _reference(MeanMetricWrapper(metrics.binary_accuracy))
    reference.update_state(torch.ones(4), torch.full((4, 1), 0.9))
    assert torch.equal(binary.total, reference.total) and torch.equal(binary.count, reference.count)


def test_no_fused_update_for_inexact_state_dtypes_or_other_functions():
    assert metrics.CategoricalAccuracy(dtype="float16")._fused is None  # a half-precision sum is not exact
    assert metrics.MeanSquaredError()._fused is None
    assert MeanMetricWrapper(lambda t, p: t == p)._fused is None


def test_counts_beyond_exact_float_range_take_the_general_path(monkeypatch):
    monkeypatch.setattr(fused, "_MAX_EXACT", 8)
    metric = metrics.CategoricalAccuracy()
    y_true, y_pred = _batch("categorical", torch.Generator().manual_seed(1), (9,))
    calls = []
    general = metric._update_general
    metric._update_general = lambda *a, **k: (calls.append(1), general(*a, **k))
    metric.update_state(y_true, y_pred)
    assert calls == [1]


def test_epoch_metrics_weigh_metrics_by_the_output_mask_like_tf_keras():
    """A masked output: unweighted metrics take the mask as weights, weighted ones mask x sample_weight."""
    generator = torch.Generator().manual_seed(3)
    y_true, y_pred = _batch("categorical", generator, (4, 5), classes=3)
    mask = torch.rand(4, 5, generator=generator) > 0.4
    weights = torch.rand(4, generator=generator)
    spec = OutputSpec("out", 0, None, None, 1.0, False)
    spec.metrics = [metrics.CategoricalAccuracy()]
    spec.weighted_metrics = [metrics.CategoricalAccuracy(name="w")]
    epoch = EpochMetrics([spec], ["categorical_accuracy", "w"])
    output = y_pred.clone()
    output._keras_mask = mask
    epoch.update_metrics([y_true], [output], [weights])
    hits = (y_true.argmax(-1) == y_pred.argmax(-1)).float()
    expected = (hits * mask).sum() / mask.sum()
    weighted = mask * weights[:, None]
    assert torch.allclose(spec.metrics[0].result(), expected)
    assert torch.allclose(spec.weighted_metrics[0].result(), (hits * weighted).sum() / weighted.sum())
