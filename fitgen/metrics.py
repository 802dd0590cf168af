"""Keras metrics on torch tensors (`keras.metrics`), with tf-keras 2.21 semantics.

Metric functions return per-sample values; metric classes accumulate on the device (`update_state` never
syncs with the host) and `result()` returns a 0-d tensor. `resolve_metric` is the engine's single entry point
for turning what the user passed to `compile(metrics=...)` into a Metric, with tf-keras's rules for
`'accuracy'`/`'acc'`/`'crossentropy'`/`'ce'`.
"""
from fitgen import losses as _losses
from fitgen._losses.functions import binary_crossentropy
from fitgen._losses.functions import categorical_crossentropy
from fitgen._losses.functions import categorical_hinge
from fitgen._losses.functions import hinge
from fitgen._losses.functions import kl_divergence
from fitgen._losses.functions import log_cosh
from fitgen._losses.functions import mean_absolute_error
from fitgen._losses.functions import mean_absolute_percentage_error
from fitgen._losses.functions import mean_squared_error
from fitgen._losses.functions import mean_squared_logarithmic_error
from fitgen._losses.functions import poisson
from fitgen._losses.functions import sparse_categorical_crossentropy
from fitgen._losses.functions import squared_hinge
from fitgen._metrics.auc import AUC
from fitgen._metrics.base import Mean
from fitgen._metrics.base import MeanMetricWrapper
from fitgen._metrics.base import Metric
from fitgen._metrics.base import Reduce
from fitgen._metrics.base import Sum
from fitgen._metrics.confusion import FalseNegatives
from fitgen._metrics.confusion import FalsePositives
from fitgen._metrics.confusion import Precision
from fitgen._metrics.confusion import Recall
from fitgen._metrics.confusion import TrueNegatives
from fitgen._metrics.confusion import TruePositives
from fitgen._metrics.functions import accuracy
from fitgen._metrics.functions import binary_accuracy
from fitgen._metrics.functions import categorical_accuracy
from fitgen._metrics.functions import cosine_similarity
from fitgen._metrics.functions import sparse_categorical_accuracy
from fitgen._metrics.functions import sparse_top_k_categorical_accuracy
from fitgen._metrics.functions import top_k_categorical_accuracy
from fitgen._metrics import registry
from fitgen._metrics.iou import MeanIoU
from fitgen._metrics.wrappers import Accuracy
from fitgen._metrics.wrappers import BinaryAccuracy
from fitgen._metrics.wrappers import BinaryCrossentropy
from fitgen._metrics.wrappers import CategoricalAccuracy
from fitgen._metrics.wrappers import CategoricalCrossentropy
from fitgen._metrics.wrappers import CategoricalHinge
from fitgen._metrics.wrappers import CosineSimilarity
from fitgen._metrics.wrappers import Hinge
from fitgen._metrics.wrappers import KLDivergence
from fitgen._metrics.wrappers import LogCoshError
from fitgen._metrics.wrappers import MeanAbsoluteError
from fitgen._metrics.wrappers import MeanAbsolutePercentageError
from fitgen._metrics.wrappers import MeanSquaredError
from fitgen._metrics.wrappers import MeanSquaredLogarithmicError
from fitgen._metrics.wrappers import Poisson
from fitgen._metrics.wrappers import RootMeanSquaredError
from fitgen._metrics.wrappers import SparseCategoricalAccuracy
from fitgen._metrics.wrappers import SparseCategoricalCrossentropy
from fitgen._metrics.wrappers import SparseTopKCategoricalAccuracy
from fitgen._metrics.wrappers import SquaredHinge
from fitgen._metrics.wrappers import TopKCategoricalAccuracy
from fitgen.utils import generic_utils

# Keras's alternative names. As in tf-keras 2.x, the METRIC `cosine_proximity` is the positive cosine similarity
# (Keras 2.2.4's was the loss, negative); the loss keeps the negative sign.
acc = ACC = accuracy
mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
bce = BCE = binary_crossentropy
kld = KLD = kullback_leibler_divergence = kl_divergence
logcosh = log_cosh
cosine_proximity = cosine = cosine_similarity

__all__ = [
    "Metric", "Reduce", "Mean", "Sum", "MeanMetricWrapper", "Accuracy", "BinaryAccuracy", "CategoricalAccuracy",
    "SparseCategoricalAccuracy", "TopKCategoricalAccuracy", "SparseTopKCategoricalAccuracy", "MeanSquaredError",
    "MeanAbsoluteError", "MeanAbsolutePercentageError", "MeanSquaredLogarithmicError", "RootMeanSquaredError",
    "BinaryCrossentropy", "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "Hinge", "SquaredHinge",
    "CategoricalHinge", "LogCoshError", "KLDivergence", "Poisson", "CosineSimilarity", "AUC", "Precision", "Recall",
    "TruePositives", "FalsePositives", "TrueNegatives", "FalseNegatives", "MeanIoU", "get", "serialize",
    "deserialize", "resolve_metric", "accuracy", "acc", "ACC", "binary_accuracy", "categorical_accuracy",
    "sparse_categorical_accuracy", "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy",
    "mean_squared_error", "mse", "MSE", "mean_absolute_error", "mae", "MAE", "mean_absolute_percentage_error",
    "mape", "MAPE", "mean_squared_logarithmic_error", "msle", "MSLE", "binary_crossentropy", "bce", "BCE",
    "categorical_crossentropy", "sparse_categorical_crossentropy", "kl_divergence", "kullback_leibler_divergence",
    "kld", "KLD", "poisson", "cosine_similarity", "cosine_proximity", "hinge", "squared_hinge", "categorical_hinge",
    "log_cosh", "logcosh", "cosine",
]

_CLASSES = (
    Metric, Reduce, Mean, Sum, MeanMetricWrapper, Accuracy, BinaryAccuracy, CategoricalAccuracy,
    SparseCategoricalAccuracy, TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy, MeanSquaredError,
    MeanAbsoluteError, MeanAbsolutePercentageError, MeanSquaredLogarithmicError, RootMeanSquaredError,
    BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy, Hinge, SquaredHinge,
    CategoricalHinge, LogCoshError, KLDivergence, Poisson, CosineSimilarity, AUC, Precision, Recall, TruePositives,
    FalsePositives, TrueNegatives, FalseNegatives, MeanIoU)
_MODULE_OBJECTS = {cls.__name__: cls for cls in _CLASSES if cls not in (Metric, Reduce)}
_MODULE_OBJECTS.update(registry.FUNCTIONS)
_SPECIAL = ("accuracy", "acc", "crossentropy", "ce")


def serialize(metric):
    """A metric function becomes its name; a Metric its `{class_name, config}` dict."""
    return generic_utils.serialize_keras_object(metric)


def deserialize(config, custom_objects=None):
    """The metric a name or `{class_name, config}` dict stands for (a class named by a string is instantiated).

    Accepts tf-keras 2.21 training-config entries such as `{"class_name": "MeanMetricWrapper", "config":
    {"name": "accuracy", "dtype": "float32", "fn": "categorical_accuracy"}}`.

    Raises:
        ValueError: for an unknown name; the message lists the accepted names.
    """
    if isinstance(config, dict) and config.get("class_name") == "function":
        config = config["config"]
    obj = generic_utils.deserialize_keras_object(
        config, module_objects=_MODULE_OBJECTS, custom_objects=custom_objects, printable_module_name="metric function")
    return obj() if isinstance(obj, type) else obj


def get(identifier):
    """Resolves a metric name, config dict or callable (no `'accuracy'` magic here: see `resolve_metric`).

    Raises:
        ValueError: for an unknown name or an identifier that is neither a string, a dict nor callable.
    """
    if isinstance(identifier, (str, dict)):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret metric identifier: {identifier!r}. Expected a metric name such as "
                     "'accuracy', a config dict, a Metric instance or a callable.")


def _loss_name(loss_fn):
    if loss_fn is None:
        return None
    if isinstance(loss_fn, str):
        loss_fn = _losses.get(loss_fn)
    fn = getattr(loss_fn, "fn", loss_fn)
    return getattr(fn, "__name__", None)


def _custom_object_name(obj):
    if hasattr(obj, "name"):
        return obj.name
    if hasattr(obj, "__name__"):
        return obj.__name__
    return generic_utils.to_snake_case(type(obj).__name__)


def resolve_metric(identifier, loss_fn=None, output_shape=None, name=None, target_shape=None):
    """Turns one entry of `compile(metrics=...)` into a Metric, following tf-keras 2.21's rules.

    `'accuracy'`/`'acc'` (and `'crossentropy'`/`'ce'`) become the binary variant when the output's last
    dimension is 1; the sparse variant when the targets are sparse (target rank lower than the output's, or a
    target last dimension of 1 against an output last dimension > 1; without `target_shape`, when the loss is
    `sparse_categorical_crossentropy`); otherwise the categorical one. Like tf-keras (unlike Keras 2.2.4), a
    `binary_crossentropy` loss on a multi-unit output does NOT make `'accuracy'` binary. The metric's name is the
    string as written (`'acc'` stays `'acc'`).

    Args:
        identifier: a string, a config dict, a callable `fn(y_true, y_pred)`, or a Metric (passed through).
        loss_fn: the output's loss (name, function or Loss object), used when `target_shape` is unknown.
        output_shape: the output's shape (with or without the batch axis; only ranks and last dims are compared).
        name: forces the metric's name.
        target_shape: the target array's shape, when known.

    Returns:
        A fresh Metric (or the given Metric instance).
    """
    if isinstance(identifier, Metric):
        metric = identifier
    elif isinstance(identifier, str) and identifier.lower() in _SPECIAL:
        metric = MeanMetricWrapper(_special_function(identifier.lower(), loss_fn, output_shape, target_shape),
                                   name=identifier)
    else:
        obj = get(identifier)
        if isinstance(obj, Metric):
            metric = obj
        else:
            metric_name = identifier if isinstance(identifier, str) else _custom_object_name(obj)
            metric = MeanMetricWrapper(obj, name=metric_name)
    if name is not None:
        metric.name = name
    return metric


def _special_function(key, loss_fn, output_shape, target_shape):
    output_last = output_shape[-1] if output_shape else None
    loss_name = _loss_name(loss_fn)
    if output_last is not None:
        is_binary = output_last == 1
    else:
        is_binary = loss_name == "binary_crossentropy"
    if target_shape is not None and output_shape:
        is_sparse = (len(target_shape) < len(output_shape)
                     or (target_shape[-1] == 1 and output_last is not None and output_last > 1))
    else:
        is_sparse = loss_name == "sparse_categorical_crossentropy"
    if key in ("accuracy", "acc"):
        if is_binary:
            return binary_accuracy
        return sparse_categorical_accuracy if is_sparse else categorical_accuracy
    if is_binary:
        return binary_crossentropy
    return sparse_categorical_crossentropy if is_sparse else categorical_crossentropy
