"""fitgen.metrics against tf-keras 2.21 values (computed once with tf-keras, stored as literals) and by hand."""
import numpy as np
import pytest
import torch

from fitgen import activations
from fitgen import losses
from fitgen import metrics


def T(values):
    return torch.tensor(np.asarray(values, dtype=np.float32))


ONE_HOT = T([[0, 1, 0], [1, 0, 0], [0, 0, 1], [0, 1, 0]])
PROBS = T([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2], [0.05, 0.05, 0.9], [0.6, 0.3, 0.1]])
SPARSE = torch.tensor([1, 0, 2, 1])
BIN_T = T([[1, 0], [0, 0], [1, 1]])
BIN_P = T([[0.9, 0.2], [0.0, 1.0], [0.6, 0.4]])
AY = T([0, 0, 1, 1, 0, 1, 1, 0, 1, 0])
AP = T([0.1, 0.4, 0.35, 0.8, 0.0, 1.0, 0.65, 0.7, 0.2, 0.5])
AW = T([1, 2, 1, 0.5, 1, 1, 0, 1, 3, 1])
SEQ_T = T([[[0.548813522, 0.715189338], [0.602763355, 0.544883192], [0.423654795, 0.64589411]],
           [[0.437587202, 0.891772985], [0.963662744, 0.383441508], [0.791725039, 0.528894901]]])
SEQ_P = T([[[0.568044543, 0.925596654], [0.0710360557, 0.0871293023], [0.0202183966, 0.832619846]],
           [[0.778156757, 0.870012164], [0.978618324, 0.799158573], [0.461479366, 0.780529201]]])


def check(got, expected, rtol=1e-5, atol=1e-6):
    np.testing.assert_allclose(np.asarray(got.detach().cpu().numpy() if isinstance(got, torch.Tensor) else got),
                               expected, rtol=rtol, atol=atol)


# ---- per-sample functions ----------------------------------------------------------------------------------

def test_accuracy_functions_match_tf_keras():
    check(metrics.categorical_accuracy(ONE_HOT, PROBS), [1, 1, 1, 0])
    check(metrics.sparse_categorical_accuracy(SPARSE.reshape(-1, 1).float(), PROBS), [1, 1, 1, 0])
    assert metrics.sparse_categorical_accuracy(SPARSE.reshape(-1, 1), PROBS).shape == (4,)
    check(metrics.sparse_categorical_accuracy(SPARSE, PROBS), [1, 1, 1, 0])
    check(metrics.top_k_categorical_accuracy(ONE_HOT, PROBS, k=2), [1, 1, 1, 1])
    check(metrics.sparse_top_k_categorical_accuracy(SPARSE, PROBS, k=1), [1, 1, 1, 0])
    check(metrics.binary_accuracy(BIN_T, BIN_P), [1, 0.5, 0.5])
    check(metrics.binary_accuracy(BIN_T, BIN_P, threshold=0.95), [0.5, 0.5, 0.0])
    check(metrics.accuracy(T([1, 2, 3]), T([1, 0, 3])), [1, 0, 1])


def test_top_k_ties_count_as_in_and_non_finite_rows_as_out():
    scores = T([[0.5, 0.5, 0.5, 0.1], [0.2, float("nan"), 0.9, 0.1]])
    check(metrics.sparse_top_k_categorical_accuracy(torch.tensor([2, 2]), scores, k=1), [1, 0])


def test_sparse_accuracy_temporal_and_argmax_first_index():
    probs = T([[[0.5, 0.5], [0.1, 0.9]], [[0.8, 0.2], [0.3, 0.7]]])
    check(metrics.sparse_categorical_accuracy(torch.tensor([[0, 1], [1, 1]]), probs), [[1, 1], [0, 1]])


def test_metric_cosine_is_positive_and_loss_negative():
    y_true, y_pred = T([[1.0, 2.0, 3.0], [0.0, -1.0, 4.0]]), T([[1.5, 1.0, 3.0], [0.2, -0.5, 3.0]])
    check(metrics.cosine_proximity(y_true, y_pred), [0.95450449, 0.994667053])
    check(losses.cosine_proximity(y_true, y_pred), [-0.95450449, -0.994667053])


# ---- stateful metrics ----------------------------------------------------------------------------------------

def test_mean_and_sum_weighted_and_unweighted():
    mean = metrics.Mean()
    mean.update_state(T([1.0, 2.0, 3.0]))
    mean.update_state(T([10.0]), sample_weight=T([2.0]))
    check(mean.result(), (6.0 + 20.0) / 5.0)
    total = metrics.Sum()
    total.update_state(T([1.0, 2.0]), sample_weight=T([3.0, 0.5]))
    total.update_state(4.0)
    check(total.result(), 8.0)
    mean.reset_state()
    check(mean.result(), 0.0)  # empty metric reads 0 (divide_no_nan), not NaN
    mean.update_state(2.5, sample_weight=32)  # the engine's loss tracker: scalar value, batch-size weight
    mean.update_state(0.5, sample_weight=16)
    check(mean.result(), (2.5 * 32 + 0.5 * 16) / 48)


def test_mean_metric_wrapper_weighted_mean_rule():
    metric = metrics.MeanMetricWrapper(metrics.categorical_accuracy, name="acc")
    metric.update_state(ONE_HOT[:2], PROBS[:2])
    metric.update_state(ONE_HOT[2:], PROBS[2:], sample_weight=T([3.0, 1.0]))
    check(metric.result(), 0.833333313)  # tf-keras: (1 + 1 + 3 * 1 + 1 * 0) / (1 + 1 + 3 + 1)
    assert metric.name == "acc"


def test_zero_weights_are_left_out_of_metric_means():
    metric = metrics.MeanAbsoluteError()
    metric.update_state(T([[1.0], [5.0]]), T([[2.0], [0.0]]), sample_weight=T([1.0, 0.0]))
    check(metric.result(), 1.0)


def test_temporal_weights_on_metric():
    metric = metrics.MeanSquaredError()
    metric.update_state(SEQ_T, SEQ_P, sample_weight=T([1.0, 3.0]))
    check(metric.result(), 0.0883418247)


def test_accumulates_across_batches_and_resets():
    metric = metrics.SparseCategoricalAccuracy()
    metric.update_state(SPARSE[:3], PROBS[:3])
    check(metric.result(), 1.0)
    metric.update_state(SPARSE[3:], PROBS[3:])
    check(metric.result(), 0.75)
    metric.reset_states()
    check(metric.result(), 0.0)
    metric.update_state(SPARSE[3:], PROBS[3:])
    check(metric.result(), 0.0)
    assert metric([1], T([[0.2, 0.8]])).item() == pytest.approx(0.5)  # __call__ updates and returns the result


def test_update_state_never_syncs_with_the_host(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("update_state read a tensor back to the host")
    cases = [
        (metrics.CategoricalAccuracy(), ONE_HOT, PROBS, T([1, 2, 0, 1])),
        (metrics.SparseCategoricalCrossentropy(), SPARSE, PROBS, None),
        (metrics.BinaryAccuracy(), BIN_T, BIN_P, T([1, 0, 2])),
        (metrics.AUC(), AY, AP, AW),
        (metrics.AUC(thresholds=[0.3, 0.7]), AY, AP, AW),
        (metrics.Precision(top_k=2), ONE_HOT, PROBS, None),
        (metrics.Recall(), AY, AP, None),
        (metrics.MeanIoU(3, ignore_class=0), SPARSE, SPARSE, None),
        (metrics.MeanMetricWrapper(losses.hinge), BIN_T, BIN_P, None),
    ]
    for name in ("item", "tolist", "numpy", "__bool__", "__float__", "__int__"):
        monkeypatch.setattr(torch.Tensor, name, forbidden)
    for metric, y_true, y_pred, weights in cases:
        metric.update_state(y_true, y_pred, sample_weight=weights)
    monkeypatch.undo()
    for metric, *_ in cases:
        assert torch.isfinite(metric.result()).all()


def test_state_follows_the_data_device_and_to():
    metric = metrics.Mean()
    assert metric.device == torch.device("cpu")
    metric.to("cpu")
    metric.update_state(T([1.0]))
    assert all(v.device.type == "cpu" for v in metric.variables)
    assert [w.tolist() for w in metric.get_weights()] == [1.0, 1.0]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_state_moves_to_cuda_on_first_update():
    metric = metrics.CategoricalAccuracy()
    metric.update_state(ONE_HOT.cuda(), PROBS.cuda())
    assert metric.total.is_cuda and metric.result().is_cuda
    check(metric.result(), 0.75)


def test_crossentropy_metric_uses_logits_of_softmax_output():
    z = T([[2.0, -1.0, 0.5], [30.0, -30.0, 0.0], [-5.0, 4.0, 1.0]]).requires_grad_()
    metric = metrics.CategoricalCrossentropy()
    metric.update_state(T([[1, 0, 0], [0, 1, 0], [0, 0, 1]]), activations.softmax(z))
    check(metric.result(), np.mean([0.24131132662296295, 60.0, 3.0487048625946045]), rtol=1e-5)
    assert z.grad is None


def test_float16_predictions_keep_their_logits_through_the_cast():
    z = T([[30.0, -30.0]]).half()
    metric = metrics.CategoricalCrossentropy()
    metric.update_state(T([[0, 1]]), activations.softmax(z))
    check(metric.result(), 60.0, rtol=1e-3)


@pytest.mark.parametrize("cls, y_true, y_pred, expected", [
    (metrics.Accuracy, T([1, 2, 3, 4]), T([1, 2, 0, 4]), 0.75),
    (metrics.BinaryAccuracy, BIN_T, BIN_P, 2.0 / 3),
    (metrics.CategoricalAccuracy, ONE_HOT, PROBS, 0.75),
    (metrics.SparseCategoricalAccuracy, SPARSE, PROBS, 0.75),
    (metrics.TopKCategoricalAccuracy, ONE_HOT, PROBS, 1.0),
    (metrics.SparseTopKCategoricalAccuracy, SPARSE, PROBS, 1.0),
    (metrics.MeanSquaredError, T([[1.0, 2.0]]), T([[2.0, 4.0]]), 2.5),
    (metrics.MeanAbsoluteError, T([[1.0, 2.0]]), T([[2.0, 4.0]]), 1.5),
    (metrics.MeanAbsolutePercentageError, T([[1.0, 2.0]]), T([[2.0, 4.0]]), 100.0),
    (metrics.RootMeanSquaredError, T([[1.0, 2.0]]), T([[2.0, 4.0]]), np.sqrt(2.5)),
    (metrics.CosineSimilarity, T([[1.0, 0.0]]), T([[1.0, 1.0]]), np.sqrt(0.5)),
    (metrics.Hinge, T([[1.0]]), T([[0.25]]), 0.75),
    (metrics.BinaryCrossentropy, T([[1.0]]), T([[0.5]]), -np.log(0.5 + 1e-7)),
    (metrics.SparseCategoricalCrossentropy, SPARSE, PROBS, np.mean([0.35667488, 0.693147123, 0.10536056, 1.20397282])),
])
def test_metric_classes(cls, y_true, y_pred, expected):
    metric = cls()
    metric.update_state(y_true, y_pred)
    check(metric.result(), expected, rtol=1e-5)
    clone = metrics.deserialize(metrics.serialize(metric))
    assert type(clone) is cls and clone.get_config() == metric.get_config()


def test_metric_class_configs_as_tf_keras():
    assert metrics.Accuracy().get_config() == {"name": "accuracy", "dtype": "float32"}
    assert metrics.BinaryAccuracy().get_config() == {"name": "binary_accuracy", "dtype": "float32", "threshold": 0.5}
    assert metrics.TopKCategoricalAccuracy().get_config() == {"name": "top_k_categorical_accuracy",
                                                              "dtype": "float32", "k": 5}
    assert metrics.KLDivergence().name == "kullback_leibler_divergence"
    assert metrics.LogCoshError().name == "logcosh"


# ---- confusion-matrix metrics and AUC --------------------------------------------------------------------

AUC_TF = {
    ("ROC", "interpolation"): 0.720000029, ("ROC", "minoring"): 0.720000029, ("ROC", "majoring"): 0.720000029,
    ("PR", "interpolation"): 0.769854367, ("PR", "minoring"): 0.547619104, ("PR", "majoring"): 0.789285719,
}


@pytest.mark.parametrize("curve, summation", sorted(AUC_TF))
def test_auc_matches_tf_keras(curve, summation):
    metric = metrics.AUC(curve=curve, summation_method=summation)
    metric.update_state(AY, AP)
    check(metric.result(), AUC_TF[(curve, summation)])


def test_auc_weighted_batched_explicit_thresholds_multi_label():
    metric = metrics.AUC()
    metric.update_state(AY, AP, sample_weight=AW)
    check(metric.result(), 0.515151501)
    metric = metrics.AUC(num_thresholds=5)
    metric.update_state(AY[:5], AP[:5])
    metric.update_state(AY[5:], AP[5:])
    check(metric.result(), 0.74000001)
    metric = metrics.AUC(thresholds=[0.3, 0.5, 0.9])
    metric.update_state(AY, AP)
    check(metric.result(), 0.719999969)
    metric = metrics.AUC(multi_label=True)
    metric.update_state(AY.reshape(5, 2), AP.reshape(5, 2))
    check(metric.result(), 1.0)
    metric.reset_state()
    check(metric.result(), 0.0)


def test_auc_perfect_and_from_logits():
    metric = metrics.AUC(from_logits=True)
    metric.update_state(T([0, 0, 1, 1]), T([-3.0, -1.0, 2.0, 4.0]))
    check(metric.result(), 1.0, atol=1e-4)


def test_auc_config_and_errors():
    config = metrics.AUC(num_thresholds=50, curve="PR").get_config()
    assert config == {"name": "auc", "dtype": "float32", "num_thresholds": 50, "curve": "PR",
                      "summation_method": "interpolation", "multi_label": False, "num_labels": None,
                      "label_weights": None, "from_logits": False}
    assert metrics.AUC.from_config(config).num_thresholds == 50
    with pytest.raises(ValueError, match="num_thresholds"):
        metrics.AUC(num_thresholds=1)
    with pytest.raises(ValueError, match="Invalid AUC curve"):
        metrics.AUC(curve="DET")
    with pytest.raises(ValueError, match="summation method"):
        metrics.AUC(summation_method="simpson")


def test_precision_recall_and_counts_match_tf_keras():
    precision = metrics.Precision()
    precision.update_state(AY, AP, sample_weight=AW)
    check(precision.result(), 0.600000024)
    recall = metrics.Recall()
    recall.update_state(AY, AP)
    check(recall.result(), 0.600000024)
    evenly = metrics.Precision(thresholds=[0.0, 0.5, 1.0])
    evenly.update_state(AY, AP)
    check(evenly.result(), [0.555555582, 0.75, 0])
    uneven = metrics.Precision(thresholds=[0.3, 0.6])
    uneven.update_state(AY, AP)
    check(uneven.result(), [0.571428597, 0.75])
    for cls, expected in ((metrics.TruePositives, 1.5), (metrics.FalsePositives, 1.0),
                          (metrics.TrueNegatives, 5.0), (metrics.FalseNegatives, 4.0)):
        metric = cls()
        metric.update_state(AY, AP, sample_weight=AW)
        check(metric.result(), expected)
    top2 = metrics.Precision(top_k=2)
    top2.update_state(ONE_HOT, PROBS)
    check(top2.result(), 0.5)
    class1 = metrics.Recall(class_id=1)
    class1.update_state(ONE_HOT, PROBS)
    check(class1.result(), 0.5)
    with pytest.raises(ValueError, match="Threshold values must be in"):
        metrics.Precision(thresholds=[1.5])


def test_mean_iou_matches_tf_keras():
    metric = metrics.MeanIoU(3)
    metric.update_state([0, 1, 2, 2, 1], [0, 2, 2, 1, 1], sample_weight=[1.0, 2.0, 1.0, 1.0, 0.5])
    check(metric.result(), 0.464285731)
    one_hot = metrics.MeanIoU(2, sparse_y_true=False, sparse_y_pred=False)
    one_hot.update_state(T([[1, 0], [0, 1]]), T([[0.9, 0.1], [0.6, 0.4]]))
    check(one_hot.result(), (0.5 + 0.0) / 2)


# ---- resolution --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("identifier, loss, output_shape, target_shape, expected_fn", [
    ("accuracy", "categorical_crossentropy", (None, 10), None, "categorical_accuracy"),
    ("acc", "binary_crossentropy", (None, 1), None, "binary_accuracy"),
    ("accuracy", "mse", (None, 1), None, "binary_accuracy"),
    ("acc", "sparse_categorical_crossentropy", (None, 10), None, "sparse_categorical_accuracy"),
    ("accuracy", losses.SparseCategoricalCrossentropy(from_logits=True), (None, 10), None,
     "sparse_categorical_accuracy"),
    ("accuracy", "categorical_crossentropy", (None, 10), (None,), "sparse_categorical_accuracy"),
    ("accuracy", "categorical_crossentropy", (None, 10), (None, 1), "sparse_categorical_accuracy"),
    ("accuracy", "sparse_categorical_crossentropy", (None, 10), (None, 10), "categorical_accuracy"),
    # tf-keras (unlike Keras 2.2.4): binary_crossentropy on a multi-unit output still gives categorical accuracy.
    ("accuracy", "binary_crossentropy", (None, 3), None, "categorical_accuracy"),
    ("accuracy", "binary_crossentropy", None, None, "binary_accuracy"),
    ("ce", "binary_crossentropy", (None, 1), None, "binary_crossentropy"),
    ("crossentropy", losses.sparse_categorical_crossentropy, (None, 4), None, "sparse_categorical_crossentropy"),
    ("crossentropy", "categorical_crossentropy", (None, 4), None, "categorical_crossentropy"),
])
def test_resolve_metric_special_names(identifier, loss, output_shape, target_shape, expected_fn):
    metric = metrics.resolve_metric(identifier, loss, output_shape, target_shape=target_shape)
    assert isinstance(metric, metrics.MeanMetricWrapper)
    assert metric._fn.__name__ == expected_fn
    assert metric.name == identifier  # the name is the string the user wrote


def test_resolve_metric_other_identifiers():
    mse = metrics.resolve_metric("mse", "mse", (None, 1))
    assert mse.name == "mse" and mse._fn is losses.mean_squared_error
    long_name = metrics.resolve_metric("mean_absolute_error", "mse", (None, 1))
    assert long_name.name == "mean_absolute_error"

    def my_metric(y_true, y_pred):
        return torch.abs(y_true - y_pred).mean(-1)
    custom = metrics.resolve_metric(my_metric, "mse", (None, 2))
    assert isinstance(custom, metrics.MeanMetricWrapper) and custom.name == "my_metric"
    custom.update_state(T([[0.0, 0.0]]), T([[1.0, 3.0]]))
    check(custom.result(), 2.0)
    auc = metrics.AUC(name="my_auc")
    assert metrics.resolve_metric(auc, "mse", (None, 1)) is auc
    assert isinstance(metrics.resolve_metric("AUC", "binary_crossentropy", (None, 1)), metrics.AUC)
    renamed = metrics.resolve_metric("acc", "binary_crossentropy", (None, 1), name="out_acc")
    assert renamed.name == "out_acc"
    loss_as_metric = metrics.resolve_metric(losses.MeanSquaredError(), "mse", (None, 1))
    assert loss_as_metric.name == "mean_squared_error"
    loss_as_metric.update_state(T([[1.0]]), T([[3.0]]))
    check(loss_as_metric.result(), 4.0)
    with pytest.raises(ValueError, match="Unknown metric function: 'accuracyy'"):
        metrics.resolve_metric("accuracyy", "mse", (None, 1))


def test_resolve_metric_gives_fresh_objects():
    first = metrics.resolve_metric("acc", "binary_crossentropy", (None, 1))
    second = metrics.resolve_metric("acc", "binary_crossentropy", (None, 1))
    assert first is not second


# ---- get / serialize / deserialize --------------------------------------------------------------------------

def test_deserialize_tf_keras_training_config_entries():
    entry = {"class_name": "MeanMetricWrapper",
             "config": {"name": "accuracy", "dtype": "float32", "fn": "categorical_accuracy"}}
    metric = metrics.deserialize(entry)
    assert isinstance(metric, metrics.MeanMetricWrapper) and metric.name == "accuracy"
    assert metric._fn is metrics.categorical_accuracy
    assert metrics.serialize(metric) == entry
    newer = {"module": "keras.metrics", "class_name": "MeanMetricWrapper", "registered_name": None,
             "config": {"name": "accuracy", "dtype": "float32",
                        "fn": {"module": "builtins", "class_name": "function", "config": "categorical_accuracy",
                               "registered_name": "function"}}}
    assert metrics.deserialize(newer)._fn is metrics.categorical_accuracy
    auc = metrics.deserialize({"class_name": "AUC", "config": {"name": "auc_1", "num_thresholds": 10}})
    assert isinstance(auc, metrics.AUC) and auc.name == "auc_1" and auc.num_thresholds == 10


def test_get_resolution_and_errors():
    assert metrics.get("accuracy") is metrics.accuracy
    assert metrics.get("acc") is metrics.accuracy
    assert metrics.get("categorical_accuracy") is metrics.categorical_accuracy
    assert metrics.get("cosine_proximity") is metrics.cosine_similarity
    assert isinstance(metrics.get("Precision"), metrics.Precision)
    assert isinstance(metrics.get(metrics.Recall), metrics.Recall)
    assert metrics.serialize(metrics.binary_accuracy) == "binary_accuracy"
    with pytest.raises(ValueError) as info:
        metrics.get("nope")
    assert "'nope'" in str(info.value) and "categorical_accuracy" in str(info.value)
    with pytest.raises(ValueError, match="Could not interpret metric"):
        metrics.get(7)

    def my_metric(y_true, y_pred):
        return y_pred
    assert metrics.get(my_metric) is my_metric
    assert metrics.deserialize("my_metric", custom_objects={"my_metric": my_metric}) is my_metric


def test_metric_merge_state_and_set_weights():
    first, second = metrics.Mean(), metrics.Mean()
    first.update_state(T([1.0, 3.0]))
    second.update_state(T([5.0]))
    first.merge_state([second])
    check(first.result(), 3.0)
    clone = metrics.Mean()
    clone.set_weights(first.get_weights())
    check(clone.result(), 3.0)
    with pytest.raises(ValueError, match="not compatible"):
        first.merge_state([metrics.Sum()])


# ------------------------------------------------- Keras 2.2.4's top-k tests and user metric round trips

@pytest.mark.parametrize("make", [lambda a: a, lambda a: a.tolist(), lambda a: __import__("fitgen").backend.variable(a)],
                         ids=["numpy", "list", "K.variable"])
def test_top_k_categorical_accuracy_on_2d_inputs(make):
    # keras 2.2.4 tests/keras/metrics_test.py: the same cases; fitgen returns per-sample values as tf-keras
    # does (Keras 2.2.4 returned their mean).
    y_pred = make(np.array([[0.3, 0.2, 0.1], [0.1, 0.2, 0.7]], dtype="float32"))
    y_true = make(np.array([[0, 1, 0], [1, 0, 0]], dtype="float32"))
    for k, expected in ((3, [1, 1]), (2, [1, 0]), (1, [0, 0])):
        result = metrics.top_k_categorical_accuracy(y_true, y_pred, k=k).numpy()
        assert result.tolist() == expected and result.mean() == np.mean(expected)


@pytest.mark.parametrize("labels, shape", [([1, 0], (2,)), ([[1], [0]], (2, 1))])
def test_sparse_top_k_categorical_accuracy_on_2d_inputs(labels, shape):
    y_pred = np.array([[0.3, 0.2, 0.1], [0.1, 0.2, 0.7]], dtype="float32")
    y_true = np.array(labels, dtype="float32")
    for k, expected in ((3, 1.0), (2, 0.5), (1, 0.0)):
        result = metrics.sparse_top_k_categorical_accuracy(y_true, y_pred, k=k).numpy()
        assert result.shape == shape and result.mean() == expected


class CountAbove(metrics.Metric):
    """A user metric with a constructor argument of its own."""

    def __init__(self, threshold=0.5, name="count_above", **kwargs):
        super().__init__(name=name, **kwargs)
        self.threshold = threshold
        self.count = self.add_weight(name="count", initializer="zeros")

    def update_state(self, y_true, y_pred, sample_weight=None):
        self.count.assign_add(torch.sum((torch.as_tensor(y_pred) > self.threshold).float()))

    def result(self):
        return self.count

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold}


def test_user_metric_serialize_round_trip_with_custom_objects_and_registration():
    from fitgen.utils import custom_object_scope, register_keras_serializable

    metric = CountAbove(threshold=0.25, name="above")
    config = metrics.serialize(metric)
    assert config == {"class_name": "CountAbove", "config": {"name": "above", "dtype": "float32", "threshold": 0.25}}
    with pytest.raises(ValueError, match="Unknown metric"):
        metrics.deserialize(config)
    again = metrics.deserialize(config, custom_objects={"CountAbove": CountAbove})
    assert isinstance(again, CountAbove) and again.name == "above" and again.threshold == 0.25
    with custom_object_scope({"CountAbove": CountAbove}):
        assert metrics.get(config).threshold == 0.25
    again.update_state(None, T([0.1, 0.3, 0.9]))
    assert float(again.result()) == 2.0

    @register_keras_serializable(package="tests")
    class Registered(CountAbove):
        pass

    restored = metrics.deserialize(metrics.serialize(Registered(threshold=0.75)))
    assert type(restored) is Registered and restored.threshold == 0.75


def test_layer_based_stateful_metric_of_keras_224_round_trips():
    # Keras 2.2.4 wrote stateful metrics as Layer subclasses; serialize/deserialize treat them as classes.
    from fitgen.layers import Layer

    class BinaryTruePositives(Layer):
        def __init__(self, name="true_positives", **kwargs):
            super().__init__(name=name, **kwargs)
            self.stateful = True

        def __call__(self, y_true, y_pred):
            return torch.sum(torch.round(y_pred) * y_true)

    config = metrics.serialize(BinaryTruePositives())
    restored = metrics.deserialize(config, custom_objects={"BinaryTruePositives": BinaryTruePositives})
    assert isinstance(restored, BinaryTruePositives) and restored.name == "true_positives"
