"""scikit-learn estimators around fitgen models (Keras 2's `keras.wrappers.scikit_learn`).

`KerasClassifier` and `KerasRegressor` build a fresh model with `build_fn` on every `fit`, so that
scikit-learn's `cross_val_score`, `GridSearchCV` and `clone` work on them. scikit-learn itself is
optional: it is imported only to answer its estimator-tag queries.
"""
import copy
import inspect
import types

import numpy as np

from fitgen.utils.np_utils import to_categorical

# Keras 2 argument names of Sequential.fit / predict / predict_classes / evaluate (2.2.4, 2.3.1 and
# tf-keras), accepted in `sk_params` even before a model exists to ask.
_KERAS_METHOD_ARGS = frozenset({
    "x", "y", "batch_size", "epochs", "verbose", "callbacks", "validation_split", "validation_data", "shuffle",
    "class_weight", "sample_weight", "initial_epoch", "steps_per_epoch", "validation_steps",
    "validation_batch_size", "validation_freq", "max_queue_size", "workers", "use_multiprocessing", "steps",
    "return_dict",
})
_ACCURACY_NAMES = ("acc", "accuracy")


def has_arg(fn, name):
    """Whether callable `fn` takes an argument called `name` explicitly (not through `*args`/`**kwargs`)."""
    try:
        parameter = inspect.signature(fn).parameters.get(name)
    except (TypeError, ValueError):
        return False
    return parameter is not None and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)


def _engine_method_args():
    """Argument names of fitgen's own Sequential front doors, when the engine is importable."""
    try:
        from fitgen.models import Sequential
    except ImportError:
        return set()
    names = set()
    for method in ("fit", "predict", "predict_classes", "evaluate"):
        fn = getattr(Sequential, method, None)
        if fn is not None:
            names.update(p for p in inspect.signature(fn).parameters if p != "self")
    return names


def _loss_name(loss):
    if isinstance(loss, str):
        return loss
    for attribute in ("__name__", "name"):
        name = getattr(loss, attribute, None)
        if isinstance(name, str):
            return name
    return None


class BaseWrapper:
    """Base class of the scikit-learn wrappers; use `KerasClassifier` or `KerasRegressor`.

    Args:
        build_fn: callable that builds, compiles and returns a fitgen model: a function, an instance
            of a class with `__call__`, or None, in which case the wrapper subclass's own `__call__`
            is used.
        **sk_params: model parameters (arguments of `build_fn`, which should all have defaults) and
            fitting parameters (arguments of `fit`, `predict`, `evaluate`, e.g. `epochs`,
            `batch_size`). Each call picks the ones its target accepts; arguments passed to a
            method call take precedence over `sk_params`, which take precedence over the model's
            defaults. Every one of them can be searched by `GridSearchCV`.
    """

    def __init__(self, build_fn=None, **sk_params):
        self.build_fn = build_fn
        self.sk_params = sk_params
        self.check_params(sk_params)

    def _build_target(self):
        if self.build_fn is None:
            return self.__call__
        if not isinstance(self.build_fn, (types.FunctionType, types.MethodType)):
            return self.build_fn.__call__
        return self.build_fn

    def check_params(self, params):
        """Checks that every name in `params` is an argument of `build_fn` or of a model method.

        Raises:
            ValueError: naming the first parameter nobody accepts.
        """
        target = self._build_target()
        engine_args = None
        for name in params:
            if name in _KERAS_METHOD_ARGS or name == "nb_epoch" or has_arg(target, name):
                continue
            if engine_args is None:
                engine_args = _engine_method_args()
            if name not in engine_args:
                raise ValueError(
                    f"{name} is not a legal parameter: it is neither an argument of `build_fn` nor of the model's "
                    f"fit/predict/evaluate."
                )

    def get_params(self, **params):
        """Returns the estimator's parameters (`build_fn` and the `sk_params`); `params` (e.g. `deep`) are ignored."""
        # A shallow copy: scikit-learn's clone checks that each parameter comes back as the same object.
        result = dict(self.sk_params)
        result["build_fn"] = self.build_fn
        return result

    def set_params(self, **params):
        """Updates `sk_params` (checked as in the constructor) and returns the estimator."""
        self.check_params(params)
        self.sk_params.update(params)
        return self

    def filter_sk_params(self, fn, override=None):
        """Returns the `sk_params` that `fn` accepts, updated with `override`."""
        result = {name: value for name, value in self.sk_params.items() if has_arg(fn, name)}
        if "nb_epoch" in self.sk_params and "epochs" not in result and has_arg(fn, "epochs"):
            result["epochs"] = self.sk_params["nb_epoch"]  # Keras 1 spelling
        result.update(override or {})
        return result

    def _build_model(self):
        target = self._build_target()
        builder = self.__call__ if self.build_fn is None else self.build_fn
        return builder(**self.filter_sk_params(target))

    def _categorical_targets(self, y, num_classes):
        """One-hot encodes integer class targets when the model was compiled with categorical_crossentropy."""
        if _loss_name(getattr(self.model, "loss", None)) != "categorical_crossentropy":
            return y
        if y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1):
            return to_categorical(y, num_classes=num_classes)
        return y

    def fit(self, x, y, **kwargs):
        """Builds a new model with `build_fn` and fits it on `(x, y)`.

        Args:
            x: array of shape `(n_samples, n_features)`.
            y: array of shape `(n_samples,)` or `(n_samples, n_outputs)`.
            **kwargs: arguments of the model's `fit`, overriding `sk_params`.

        Returns:
            The `History` returned by the model's `fit` (as Keras 2 does).
        """
        self.model = self._build_model()
        y = np.asarray(y)
        y = self._categorical_targets(y, getattr(self, "n_classes_", None))
        fit_args = copy.deepcopy(self.filter_sk_params(self.model.fit))
        fit_args.update(kwargs)
        return self.model.fit(x, y, **fit_args)


class KerasClassifier(BaseWrapper):
    """The scikit-learn classifier API for a fitgen model.

    Labels may be any sortable values (`classes_` holds them in sorted order) or one-hot rows; with a
    model compiled with `loss='categorical_crossentropy'` integer labels are one-hot encoded for it.
    `score` returns the model's accuracy from `evaluate`, so compile with `metrics=['accuracy']`.

    Example:

    ```python
    def build_fn(units=8):
        model = Sequential([Dense(units, activation='relu', input_shape=(4,)), Dense(3, activation='softmax')])
        model.compile('adam', 'sparse_categorical_crossentropy', metrics=['accuracy'])
        return model

    clf = KerasClassifier(build_fn, epochs=5, batch_size=16, verbose=0)
    scores = cross_val_score(clf, x, y, cv=3)
    ```
    """

    _estimator_type = "classifier"  # read by scikit-learn < 1.6

    def __sklearn_tags__(self):
        from sklearn.utils import ClassifierTags
        from sklearn.utils import Tags
        from sklearn.utils import TargetTags
        return Tags(estimator_type="classifier", target_tags=TargetTags(required=True),
                    classifier_tags=ClassifierTags())

    def fit(self, x, y, sample_weight=None, **kwargs):
        """Builds a new model with `build_fn` and fits it on `(x, y)`.

        Args:
            x: array of shape `(n_samples, n_features)`.
            y: labels of shape `(n_samples,)` or `(n_samples, 1)`, or one-hot rows `(n_samples, n_classes)`.
            sample_weight: optional per-sample weights, passed to the model's `fit`.
            **kwargs: arguments of the model's `fit`, overriding `sk_params`.

        Returns:
            The `History` returned by the model's `fit`.

        Raises:
            ValueError: if `y` has another shape.
        """
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] > 1:
            self.classes_ = np.arange(y.shape[1])
        elif y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1):
            self.classes_ = np.unique(y)
            y = np.searchsorted(self.classes_, y)
        else:
            raise ValueError(
                f"`y` must have shape (n_samples,), (n_samples, 1) or (n_samples, n_classes). Received: y.shape={y.shape}."
            )
        self.n_classes_ = len(self.classes_)
        if sample_weight is not None:
            kwargs["sample_weight"] = sample_weight
        return super().fit(x, y, **kwargs)

    def _predict_probabilities(self, x, kwargs):
        return np.asarray(self.model.predict(x, **self.filter_sk_params(self.model.predict, kwargs)))

    def predict(self, x, **kwargs):
        """Returns the predicted class of each sample, as values of `classes_`, shape `(n_samples,)`.

        The class is the argmax of the model's output, or `output > 0.5` for a single sigmoid unit
        (Keras 2's `predict_classes` rule).
        """
        probabilities = self._predict_probabilities(x, kwargs)
        if probabilities.shape[-1] > 1:
            indexes = probabilities.argmax(axis=-1)
        else:
            indexes = (probabilities > 0.5).astype("int32").reshape(len(probabilities))
        return self.classes_[indexes]

    def predict_proba(self, x, **kwargs):
        """Returns class probabilities of shape `(n_samples, n_classes)`.

        For a single sigmoid output the result has two columns `[1 - p, p]`, as scikit-learn expects.
        """
        probabilities = self._predict_probabilities(x, kwargs)
        if probabilities.ndim == 2 and probabilities.shape[1] == 1:
            probabilities = np.hstack([1 - probabilities, probabilities])
        return probabilities

    def score(self, x, y, **kwargs):
        """Returns the model's accuracy on `(x, y)`, computed by its `evaluate`.

        Raises:
            ValueError: if the model was not compiled with an `'accuracy'` (or `'acc'`) metric.
        """
        y = np.searchsorted(self.classes_, np.asarray(y))
        y = self._categorical_targets(y, len(self.classes_))
        outputs = self.model.evaluate(x, y, **self.filter_sk_params(self.model.evaluate, kwargs))
        if not isinstance(outputs, (list, tuple)):
            outputs = [outputs]
        for name, output in zip(self.model.metrics_names, outputs):
            if name in _ACCURACY_NAMES:
                return output
        raise ValueError(
            "The model is not configured to compute accuracy. You should pass `metrics=[\"accuracy\"]` to the "
            f"`model.compile()` method. Received: metrics_names={list(self.model.metrics_names)}."
        )


class KerasRegressor(BaseWrapper):
    """The scikit-learn regressor API for a fitgen model; `score` is the negated loss (greater is better)."""

    _estimator_type = "regressor"  # read by scikit-learn < 1.6

    def __sklearn_tags__(self):
        from sklearn.utils import RegressorTags
        from sklearn.utils import Tags
        from sklearn.utils import TargetTags
        return Tags(estimator_type="regressor", target_tags=TargetTags(required=True),
                    regressor_tags=RegressorTags())

    def predict(self, x, **kwargs):
        """Returns the model's predictions; a trailing axis of size 1 is dropped, giving `(n_samples,)`."""
        predictions = np.asarray(self.model.predict(x, **self.filter_sk_params(self.model.predict, kwargs)))
        if predictions.ndim > 1 and predictions.shape[-1] == 1:
            predictions = predictions[..., 0]
        return predictions

    def score(self, x, y, **kwargs):
        """Returns the negated loss of the model on `(x, y)` (its first `evaluate` output)."""
        loss = self.model.evaluate(x, y, **self.filter_sk_params(self.model.evaluate, kwargs))
        if isinstance(loss, (list, tuple)):
            return -loss[0]
        return -loss
