"""Metric functions by the names Keras configs use (`'categorical_accuracy'`, `'acc'`, `'mse'`, ...).

The one table both `fitgen.metrics.get` and `MeanMetricWrapper.from_config` read, so the private metric modules
never import the public `fitgen.metrics` (which imports them).
"""
from fitgen._losses import functions as losses
from fitgen._metrics import functions
from fitgen.utils import generic_utils

# As in tf-keras 2.x, the METRIC `cosine_proximity` is the positive cosine similarity (Keras 2.2.4's was the loss).
FUNCTIONS = {
    "accuracy": functions.accuracy, "acc": functions.accuracy, "ACC": functions.accuracy,
    "binary_accuracy": functions.binary_accuracy, "categorical_accuracy": functions.categorical_accuracy,
    "sparse_categorical_accuracy": functions.sparse_categorical_accuracy,
    "top_k_categorical_accuracy": functions.top_k_categorical_accuracy,
    "sparse_top_k_categorical_accuracy": functions.sparse_top_k_categorical_accuracy,
    "mean_squared_error": losses.mean_squared_error, "mse": losses.mean_squared_error,
    "MSE": losses.mean_squared_error,
    "mean_absolute_error": losses.mean_absolute_error, "mae": losses.mean_absolute_error,
    "MAE": losses.mean_absolute_error,
    "mean_absolute_percentage_error": losses.mean_absolute_percentage_error,
    "mape": losses.mean_absolute_percentage_error, "MAPE": losses.mean_absolute_percentage_error,
    "mean_squared_logarithmic_error": losses.mean_squared_logarithmic_error,
    "msle": losses.mean_squared_logarithmic_error, "MSLE": losses.mean_squared_logarithmic_error,
    "binary_crossentropy": losses.binary_crossentropy, "bce": losses.binary_crossentropy,
    "BCE": losses.binary_crossentropy,
    "categorical_crossentropy": losses.categorical_crossentropy,
    "sparse_categorical_crossentropy": losses.sparse_categorical_crossentropy,
    "kl_divergence": losses.kl_divergence, "kullback_leibler_divergence": losses.kl_divergence,
    "kld": losses.kl_divergence, "KLD": losses.kl_divergence,
    "poisson": losses.poisson,
    "cosine_similarity": functions.cosine_similarity, "cosine_proximity": functions.cosine_similarity,
    "cosine": functions.cosine_similarity,
    "hinge": losses.hinge, "squared_hinge": losses.squared_hinge, "categorical_hinge": losses.categorical_hinge,
    "log_cosh": losses.log_cosh, "logcosh": losses.log_cosh,
}


def function_by_name(name):
    """The metric function `name` stands for (custom objects in scope first); also tf-keras 2.13+'s form
    `{"class_name": "function", "config": "categorical_accuracy", ...}`.

    Raises:
        ValueError: for an unknown name, listing the accepted ones.
    """
    if isinstance(name, dict) and name.get("class_name") == "function":
        name = name["config"]
    return generic_utils.deserialize_keras_object(name, module_objects=FUNCTIONS,
                                                  printable_module_name="metric function")
