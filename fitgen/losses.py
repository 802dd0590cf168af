"""Keras losses on torch tensors (`keras.losses`), with tf-keras 2.21 numerics.

Loss functions return per-sample values reduced over the last axis only (`(N,)` for `(N, C)` inputs, `(N, T)`
for `(N, T, C)`). Loss classes (`MeanSquaredError()`, ...) reduce them with `sample_weight` to a scalar using
tf-keras's rule `sum(w * l) / number of elements of l` (`compute_weighted_loss`, which the engine also uses).
"""
from fitgen._losses import fused
from fitgen._losses.functions import binary_crossentropy
from fitgen._losses.functions import categorical_crossentropy
from fitgen._losses.functions import categorical_hinge
from fitgen._losses.functions import cosine_similarity
from fitgen._losses.functions import hinge
from fitgen._losses.functions import huber
from fitgen._losses.functions import kl_divergence
from fitgen._losses.functions import log_cosh
from fitgen._losses.functions import mean_absolute_error
from fitgen._losses.functions import mean_absolute_percentage_error
from fitgen._losses.functions import mean_squared_error
from fitgen._losses.functions import mean_squared_logarithmic_error
from fitgen._losses.functions import poisson
from fitgen._losses.functions import sparse_categorical_crossentropy
from fitgen._losses.functions import squared_hinge
from fitgen._losses.reduction import Reduction
from fitgen._losses.reduction import apply_mask
from fitgen._losses.reduction import apply_valid_mask
from fitgen._losses.reduction import compute_weighted_loss
from fitgen._losses.reduction import match_dtype_and_rank
from fitgen._losses.reduction import squeeze_or_expand_dimensions
from fitgen.utils import generic_utils

__all__ = [
    "Loss", "LossFunctionWrapper", "Reduction", "compute_weighted_loss", "match_dtype_and_rank", "apply_mask",
    "apply_valid_mask", "squeeze_or_expand_dimensions", "is_categorical_crossentropy", "get", "serialize", "deserialize",
    "MeanSquaredError", "MeanAbsoluteError", "MeanAbsolutePercentageError", "MeanSquaredLogarithmicError",
    "BinaryCrossentropy", "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "Hinge", "SquaredHinge",
    "CategoricalHinge", "LogCosh", "KLDivergence", "Poisson", "CosineSimilarity", "Huber",
    "mean_squared_error", "mean_absolute_error", "mean_absolute_percentage_error",
    "mean_squared_logarithmic_error", "binary_crossentropy", "categorical_crossentropy",
    "sparse_categorical_crossentropy", "hinge", "squared_hinge", "categorical_hinge", "log_cosh", "logcosh",
    "kl_divergence", "kullback_leibler_divergence", "poisson", "cosine_similarity", "cosine_proximity", "huber",
    "mse", "MSE", "mae", "MAE", "mape", "MAPE", "msle", "MSLE", "kld", "KLD", "bce", "BCE", "huber_loss",
]


class Loss:
    """Base of loss objects: `loss(y_true, y_pred, sample_weight=None)` -> reduced 0-d tensor.

    Subclasses implement `call(y_true, y_pred)` returning per-sample losses.

    Args:
        reduction: `'auto'` / `'sum_over_batch_size'` (sum of weighted losses / element count), `'sum'`, `'none'`.
        name: the loss name (defaults to the snake-case class name where a subclass gives none).
    """

    def __init__(self, reduction=Reduction.AUTO, name=None):
        Reduction.validate(reduction)
        self.reduction = reduction
        self.name = name

    def __call__(self, y_true, y_pred, sample_weight=None):
        losses = self.call(y_true, y_pred)
        in_mask = getattr(y_pred, "_keras_mask", None)
        out_mask = getattr(losses, "_keras_mask", None)
        if in_mask is not None and out_mask is not None:
            mask = in_mask & out_mask
        else:
            mask = in_mask if in_mask is not None else out_mask
        reduction = self._get_reduction()
        if mask is not None:
            sample_weight = apply_valid_mask(losses, sample_weight, mask, reduction)
        return compute_weighted_loss(losses, sample_weight, reduction=reduction)

    def call(self, y_true, y_pred):
        raise NotImplementedError(f"{type(self).__name__} must implement call(y_true, y_pred).")

    def _get_reduction(self):
        return Reduction.SUM_OVER_BATCH_SIZE if self.reduction == Reduction.AUTO else self.reduction

    def fused_mean(self):
        """The engine's one-kernel batch mean of this loss (`fitgen._losses.fused`), or None: a loss object
        only has one when it is a built-in function with a mean reduction."""
        return None

    def get_config(self):
        return {"reduction": self.reduction, "name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<fitgen.losses.{type(self).__name__} name={self.name!r} reduction={self.reduction!r}>"


class LossFunctionWrapper(Loss):
    """Turns a per-sample loss function into a `Loss` object (extra keyword arguments go to the function)."""

    def __init__(self, fn, reduction=Reduction.AUTO, name=None, **kwargs):
        super().__init__(reduction=reduction, name=name)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        if hasattr(y_true, "dim") and hasattr(y_pred, "dim"):
            y_pred, y_true = squeeze_or_expand_dimensions(y_pred, y_true)
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def fused_mean(self):
        cls = type(self)
        if self._get_reduction() != Reduction.SUM_OVER_BATCH_SIZE or cls.call is not LossFunctionWrapper.call \
                or cls.__call__ is not Loss.__call__:
            return None  # another reduction, or a subclass computing something of its own
        return fused.fused_mean_for(self.fn, self._fn_kwargs)

    def get_config(self):
        config = super().get_config()
        config.update(self._fn_kwargs)
        config["fn"] = getattr(self.fn, "__name__", None)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        fn = config.pop("fn", None)
        if cls is LossFunctionWrapper:
            return cls(get(fn) if isinstance(fn, str) else fn, **config)
        return cls(**config)


def _wrapper_class(class_name, fn, default_name, doc, **defaults):
    """Builds a Keras loss class whose constructor takes `defaults` (in order), `reduction` and `name`."""

    def __init__(self, *args, reduction=Reduction.AUTO, name=default_name, **kwargs):
        if len(args) > len(defaults):
            raise TypeError(f"{class_name}() takes at most {len(defaults)} positional arguments "
                            f"({', '.join(defaults) or 'none'}). Received: {len(args)}")
        options = dict(defaults)
        options.update(zip(defaults, args))
        unknown = set(kwargs) - set(defaults)
        if unknown:
            raise TypeError(f"{class_name}() got unexpected keyword arguments: {sorted(unknown)}. "
                            f"Accepted: {sorted(defaults) + ['name', 'reduction']}")
        options.update(kwargs)
        LossFunctionWrapper.__init__(self, fn, reduction=reduction, name=name, **options)
        for key, value in options.items():
            setattr(self, key, value)

    return type(class_name, (LossFunctionWrapper,), {"__init__": __init__, "__doc__": doc, "__module__": __name__})


MeanSquaredError = _wrapper_class(
    "MeanSquaredError", mean_squared_error, "mean_squared_error", "Mean of squared errors over the last axis.")
MeanAbsoluteError = _wrapper_class(
    "MeanAbsoluteError", mean_absolute_error, "mean_absolute_error", "Mean of absolute errors over the last axis.")
MeanAbsolutePercentageError = _wrapper_class(
    "MeanAbsolutePercentageError", mean_absolute_percentage_error, "mean_absolute_percentage_error",
    "`100 * mean(|(y_true - y_pred) / max(|y_true|, epsilon)|)` over the last axis.")
MeanSquaredLogarithmicError = _wrapper_class(
    "MeanSquaredLogarithmicError", mean_squared_logarithmic_error, "mean_squared_logarithmic_error",
    "Mean of `(log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1)) ** 2` over the last axis.")
BinaryCrossentropy = _wrapper_class(
    "BinaryCrossentropy", binary_crossentropy, "binary_crossentropy",
    "Binary crossentropy averaged over `axis`; args `(from_logits=False, label_smoothing=0.0, axis=-1)`.",
    from_logits=False, label_smoothing=0.0, axis=-1)
CategoricalCrossentropy = _wrapper_class(
    "CategoricalCrossentropy", categorical_crossentropy, "categorical_crossentropy",
    "Crossentropy with one-hot targets; args `(from_logits=False, label_smoothing=0.0, axis=-1)`.",
    from_logits=False, label_smoothing=0.0, axis=-1)
SparseCategoricalCrossentropy = _wrapper_class(
    "SparseCategoricalCrossentropy", sparse_categorical_crossentropy, "sparse_categorical_crossentropy",
    "Crossentropy with integer targets; args `(from_logits=False, ignore_class=None)`.",
    from_logits=False, ignore_class=None)
Hinge = _wrapper_class("Hinge", hinge, "hinge", "`mean(max(1 - y_true * y_pred, 0))`; {0,1} labels become {-1,1}.")
SquaredHinge = _wrapper_class(
    "SquaredHinge", squared_hinge, "squared_hinge", "`mean(max(1 - y_true * y_pred, 0) ** 2)`; {0,1} -> {-1,1}.")
CategoricalHinge = _wrapper_class(
    "CategoricalHinge", categorical_hinge, "categorical_hinge", "`max(max((1 - t) * p) - sum(t * p) + 1, 0)`.")
LogCosh = _wrapper_class("LogCosh", log_cosh, "log_cosh", "Mean of `log(cosh(y_pred - y_true))`.")
KLDivergence = _wrapper_class(
    "KLDivergence", kl_divergence, "kl_divergence", "`sum(t * log(t / p))` with both clipped to `[eps, 1]`.")
Poisson = _wrapper_class("Poisson", poisson, "poisson", "Mean of `y_pred - y_true * log(y_pred + eps)`.")
CosineSimilarity = _wrapper_class(
    "CosineSimilarity", cosine_similarity, "cosine_similarity",
    "Negative cosine similarity along `axis` (-1 is best); arg `(axis=-1)`.", axis=-1)
Huber = _wrapper_class(
    "Huber", huber, "huber_loss", "Quadratic below `delta`, linear above; arg `(delta=1.0)`.", delta=1.0)

# Keras's alternative names, and Keras 2.2.4's `cosine_proximity` (the same negative cosine).
mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
kld = KLD = kullback_leibler_divergence = kl_divergence
bce = BCE = binary_crossentropy
logcosh = log_cosh
huber_loss = huber
cosine_proximity = cosine = cosine_similarity

_LOSS_CLASSES = (
    LossFunctionWrapper, MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError, BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy, Hinge,
    SquaredHinge, CategoricalHinge, LogCosh, KLDivergence, Poisson, CosineSimilarity, Huber)
_MODULE_OBJECTS = {cls.__name__: cls for cls in _LOSS_CLASSES}
_FUNCTION_NAMES = (
    "mean_squared_error", "mean_absolute_error", "mean_absolute_percentage_error", "mean_squared_logarithmic_error",
    "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy", "hinge", "squared_hinge",
    "categorical_hinge", "log_cosh", "logcosh", "kl_divergence", "kullback_leibler_divergence", "poisson",
    "cosine_similarity", "cosine_proximity", "cosine", "huber", "huber_loss", "mse", "MSE", "mae", "MAE", "mape",
    "MAPE", "msle", "MSLE", "kld", "KLD", "bce", "BCE")
_MODULE_OBJECTS.update({name: globals()[name] for name in _FUNCTION_NAMES})


def serialize(loss):
    """A loss function becomes its name (`'mean_squared_error'`); a Loss object its `{class_name, config}`."""
    return generic_utils.serialize_keras_object(loss)


def deserialize(name, custom_objects=None):
    """The loss a name or `{class_name, config}` dict stands for (a class named by a string is instantiated).

    Raises:
        ValueError: for an unknown name; the message lists the accepted names.
    """
    if isinstance(name, dict) and name.get("class_name") == "function":
        # tf-keras 2.13+ format for plain functions: {"module": "builtins", "class_name": "function", "config": "mse"}
        name = name["config"]
    obj = generic_utils.deserialize_keras_object(
        name, module_objects=_MODULE_OBJECTS, custom_objects=custom_objects, printable_module_name="loss function")
    return obj() if isinstance(obj, type) else obj


def get(identifier):
    """Resolves a loss identifier: None, a name, a config dict, a Loss class or instance, or a callable.

    Raises:
        ValueError: for an unknown name (listing accepted names) or an uninterpretable identifier.
    """
    if identifier is None:
        return None
    if isinstance(identifier, (str, dict)):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret loss function identifier: {identifier!r}. Expected a loss name such "
                     f"as 'mse', a config dict, a Loss instance or a callable.")


def is_categorical_crossentropy(loss):
    """True for `categorical_crossentropy` given as a name, a function or a Loss object (used by the engine's
    target-shape check)."""
    return (isinstance(loss, CategoricalCrossentropy)
            or (isinstance(loss, LossFunctionWrapper) and loss.fn is categorical_crossentropy)
            or getattr(loss, "__name__", None) == "categorical_crossentropy"
            or loss == "categorical_crossentropy")


def fused_mean_for(loss):
    """For a compiled loss (function or Loss object), the engine's one-kernel batch mean, or None (see
    `fitgen._losses.fused`)."""
    if isinstance(loss, Loss):
        return loss.fused_mean()
    return fused.fused_mean_for(loss)
