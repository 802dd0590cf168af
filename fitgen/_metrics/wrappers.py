"""Keras metric classes that are running means of a per-sample function (accuracies, errors, crossentropies)."""
from fitgen._losses import functions as loss_functions
from fitgen._metrics import functions
from fitgen._metrics.base import MeanMetricWrapper


class Accuracy(MeanMetricWrapper):
    """How often predictions equal labels, elementwise."""

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(functions.accuracy, name, dtype=dtype)


class BinaryAccuracy(MeanMetricWrapper):
    """How often `y_pred > threshold` matches the binary label."""

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(functions.binary_matches, name, dtype=dtype, threshold=threshold)


class CategoricalAccuracy(MeanMetricWrapper):
    """How often `argmax(y_pred)` matches `argmax(y_true)` (one-hot labels)."""

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(functions.categorical_accuracy, name, dtype=dtype)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often `argmax(y_pred)` matches the integer label."""

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(functions.sparse_categorical_matches, name, dtype=dtype)


class TopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the one-hot target is among the `k` highest predictions."""

    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        super().__init__(functions.top_k_categorical_accuracy, name, dtype=dtype, k=k)


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the integer label is among the `k` highest predictions."""

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None):
        super().__init__(functions.sparse_top_k_categorical_accuracy, name, dtype=dtype, k=k)


def _simple(class_name, fn, default_name, doc):
    def __init__(self, name=default_name, dtype=None):
        MeanMetricWrapper.__init__(self, fn, name, dtype=dtype)
    return type(class_name, (MeanMetricWrapper,), {"__init__": __init__, "__doc__": doc, "__module__": __name__})


MeanSquaredError = _simple("MeanSquaredError", loss_functions.mean_squared_error, "mean_squared_error",
                           "Running mean of the squared error.")
MeanAbsoluteError = _simple("MeanAbsoluteError", loss_functions.mean_absolute_error, "mean_absolute_error",
                            "Running mean of the absolute error.")
MeanAbsolutePercentageError = _simple(
    "MeanAbsolutePercentageError", loss_functions.mean_absolute_percentage_error, "mean_absolute_percentage_error",
    "Running mean of the absolute percentage error.")
MeanSquaredLogarithmicError = _simple(
    "MeanSquaredLogarithmicError", loss_functions.mean_squared_logarithmic_error, "mean_squared_logarithmic_error",
    "Running mean of the squared logarithmic error.")
Hinge = _simple("Hinge", loss_functions.hinge, "hinge", "Running mean of the hinge loss.")
SquaredHinge = _simple("SquaredHinge", loss_functions.squared_hinge, "squared_hinge",
                       "Running mean of the squared hinge loss.")
CategoricalHinge = _simple("CategoricalHinge", loss_functions.categorical_hinge, "categorical_hinge",
                           "Running mean of the categorical hinge loss.")
LogCoshError = _simple("LogCoshError", loss_functions.log_cosh, "logcosh", "Running mean of log(cosh(error)).")
Poisson = _simple("Poisson", loss_functions.poisson, "poisson", "Running mean of the Poisson loss.")
KLDivergence = _simple("KLDivergence", loss_functions.kl_divergence, "kullback_leibler_divergence",
                       "Running mean of the Kullback-Leibler divergence.")


class CosineSimilarity(MeanMetricWrapper):
    """Running mean of the (positive) cosine similarity along `axis`."""

    def __init__(self, name="cosine_similarity", dtype=None, axis=-1):
        super().__init__(functions.cosine_similarity, name, dtype=dtype, axis=axis)


class BinaryCrossentropy(MeanMetricWrapper):
    """Running mean of the binary crossentropy."""

    def __init__(self, name="binary_crossentropy", dtype=None, from_logits=False, label_smoothing=0):
        super().__init__(loss_functions.binary_crossentropy, name, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing)


class CategoricalCrossentropy(MeanMetricWrapper):
    """Running mean of the categorical crossentropy."""

    def __init__(self, name="categorical_crossentropy", dtype=None, from_logits=False, label_smoothing=0, axis=-1):
        super().__init__(loss_functions.categorical_crossentropy, name, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis)


class SparseCategoricalCrossentropy(MeanMetricWrapper):
    """Running mean of the sparse categorical crossentropy."""

    def __init__(self, name="sparse_categorical_crossentropy", dtype=None, from_logits=False, ignore_class=None,
                 axis=-1):
        super().__init__(loss_functions.sparse_categorical_crossentropy, name, dtype=dtype, from_logits=from_logits,
                         ignore_class=ignore_class, axis=axis)


class RootMeanSquaredError(MeanMetricWrapper):
    """Square root of the running mean squared error."""

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(_squared_error, name, dtype=dtype)

    def result(self):
        return super().result().sqrt()


def _squared_error(y_true, y_pred):
    return (y_pred - y_true).square()
