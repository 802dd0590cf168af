"""KerasClassifier / KerasRegressor on a numpy stand-in model (Keras 2 model API), then with the real engine."""
import numpy as np
import pytest

from fitgen.wrappers.scikit_learn import KerasClassifier
from fitgen.wrappers.scikit_learn import KerasRegressor


class FakeModel:
    """Logistic / softmax / linear regression trained by full-batch gradient descent, with Keras 2's method names."""

    def __init__(self, n_in, n_out, activation):
        self.w = np.zeros((n_in, n_out))
        self.b = np.zeros(n_out)
        self.activation = activation
        self.calls = []

    def compile(self, optimizer="sgd", loss=None, metrics=None):
        self.loss = loss
        self.lr = 0.5 if optimizer == "sgd" else float(optimizer)
        self.metrics_names = ["loss"] + list(metrics or [])

    def _forward(self, x):
        z = np.asarray(x, float) @ self.w + self.b
        if self.activation == "sigmoid":
            return 1 / (1 + np.exp(-z))
        if self.activation == "softmax":
            e = np.exp(z - z.max(axis=1, keepdims=True))
            return e / e.sum(axis=1, keepdims=True)
        return z

    def _targets(self, y):
        y = np.asarray(y, float)
        if self.loss == "sparse_categorical_crossentropy":
            return np.eye(self.w.shape[1])[y.astype(int).ravel()]
        return y.reshape(len(y), -1)

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose=1, sample_weight=None, callbacks=None):
        self.calls.append(("fit", {"batch_size": batch_size, "epochs": epochs, "verbose": verbose,
                                   "sample_weight": sample_weight, "y_shape": np.shape(y)}))
        x, t = np.asarray(x, float), self._targets(y)
        weights = np.ones(len(x)) if sample_weight is None else np.asarray(sample_weight, float)
        for _ in range(epochs):
            grad = (self._forward(x) - t) * weights[:, None] / len(x)
            self.w -= self.lr * x.T @ grad
            self.b -= self.lr * grad.sum(axis=0)
        return "history"

    def predict(self, x, batch_size=None, verbose=0):
        self.calls.append(("predict", {"batch_size": batch_size}))
        return self._forward(x)

    def evaluate(self, x=None, y=None, batch_size=None, verbose=1, sample_weight=None):
        self.calls.append(("evaluate", {"batch_size": batch_size, "y_shape": np.shape(y)}))
        p, t = self._forward(x), self._targets(y)
        loss = float(np.mean((p - t) ** 2))
        if len(self.metrics_names) == 1:
            return loss
        if p.shape[1] == 1:
            accuracy = float(np.mean((p > 0.5) == (t > 0.5)))
        else:
            accuracy = float(np.mean(p.argmax(1) == t.argmax(1)))
        return [loss, accuracy]


BUILT = []


def build_classifier(n_in=2, n_out=1, activation="sigmoid", loss="binary_crossentropy", metrics=("accuracy",)):
    model = FakeModel(n_in, n_out, activation)
    model.compile("sgd", loss=loss, metrics=list(metrics))
    BUILT.append(model)
    return model


def build_regressor(n_in=1, lr=0.1):
    model = FakeModel(n_in, 1, "linear")
    model.compile(lr, loss="mse")
    BUILT.append(model)
    return model


def _binary_data():
    x = np.array([[0.0, 0.0], [0.2, 0.1], [0.1, 0.3], [1.0, 1.0], [0.9, 1.2], [1.1, 0.8]])
    return x, np.array(["no", "no", "no", "yes", "yes", "yes"])


def test_classifier_string_labels_binary():
    x, y = _binary_data()
    clf = KerasClassifier(build_classifier, epochs=300, batch_size=2, verbose=0)
    assert clf.fit(x, y) == "history"
    model = BUILT[-1]
    assert model.calls[0] == ("fit", {"batch_size": 2, "epochs": 300, "verbose": 0, "sample_weight": None,
                                      "y_shape": (6,)})
    assert clf.classes_.tolist() == ["no", "yes"] and clf.n_classes_ == 2
    assert clf.predict(x).tolist() == y.tolist()
    proba = clf.predict_proba(x)
    assert proba.shape == (6, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert proba[0, 0] > 0.5 and proba[-1, 1] > 0.5
    assert clf.score(x, y) == 1.0
    assert model.calls[-1] == ("evaluate", {"batch_size": 2, "y_shape": (6,)})


def test_classifier_one_hot_for_categorical_crossentropy():
    x = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]] * 2)
    y = np.array([10, 20, 30] * 2)
    clf = KerasClassifier(build_classifier, n_in=3, n_out=3, activation="softmax", loss="categorical_crossentropy",
                          epochs=200)
    clf.fit(x, y)
    assert BUILT[-1].calls[0][1]["y_shape"] == (6, 3)  # integer labels were one-hot encoded for the loss
    assert clf.predict(x).tolist() == y.tolist()
    assert clf.score(x, y) == 1.0
    assert BUILT[-1].calls[-1][1]["y_shape"] == (6, 3)
    assert clf.predict_proba(x).shape == (6, 3)


def test_classifier_one_hot_targets_and_column_labels():
    x = np.array([[1.0, 0.0], [0.0, 1.0]] * 3)
    one_hot = np.array([[1, 0], [0, 1]] * 3)
    clf = KerasClassifier(build_classifier, n_out=2, activation="softmax", loss="categorical_crossentropy",
                          epochs=100)
    clf.fit(x, one_hot)
    assert clf.classes_.tolist() == [0, 1]
    assert clf.predict(x).tolist() == [0, 1] * 3
    sparse = KerasClassifier(build_classifier, n_out=2, activation="softmax",
                             loss="sparse_categorical_crossentropy", epochs=100)
    sparse.fit(x, np.array([[3], [7]] * 3))  # (n, 1) labels
    assert sparse.classes_.tolist() == [3, 7] and sparse.predict(x).tolist() == [3, 7] * 3


def test_classifier_fit_kwargs_override_sk_params_and_sample_weight():
    x, y = _binary_data()
    clf = KerasClassifier(build_classifier, epochs=3, batch_size=2)
    clf.fit(x, y, epochs=1, sample_weight=np.ones(6))
    call = BUILT[-1].calls[0][1]
    assert call["epochs"] == 1 and call["batch_size"] == 2 and call["sample_weight"] is not None


def test_build_fn_gets_only_its_own_parameters():
    received = {}

    def build(n_in=2, units=4):
        received.update(n_in=n_in, units=units)
        return build_classifier(n_in=n_in)

    x, y = _binary_data()
    KerasClassifier(build, units=9, epochs=2, verbose=0).fit(x, y)
    assert received == {"n_in": 2, "units": 9}


def test_build_fn_as_callable_object_and_subclass_call():
    class Builder:
        def __call__(self, n_out=1):
            return build_classifier(n_out=n_out)

    x, y = _binary_data()
    KerasClassifier(Builder(), n_out=1, epochs=1).fit(x, y)

    class MyClassifier(KerasClassifier):
        def __call__(self, n_in=2):
            return build_classifier(n_in=n_in)

    clf = MyClassifier(n_in=2, epochs=1)
    clf.fit(x, y)
    assert clf.model is BUILT[-1]


def test_illegal_parameters_are_rejected():
    with pytest.raises(ValueError, match="unitz is not a legal parameter"):
        KerasClassifier(build_classifier, unitz=3)
    clf = KerasClassifier(build_classifier)
    with pytest.raises(ValueError, match="bogus is not a legal parameter"):
        clf.set_params(bogus=1)


def test_get_and_set_params():
    clf = KerasClassifier(build_classifier, epochs=2, metrics=["accuracy"])
    params = clf.get_params(deep=False)
    assert params == {"build_fn": build_classifier, "epochs": 2, "metrics": ["accuracy"]}
    assert params["metrics"] is clf.sk_params["metrics"]  # scikit-learn's clone demands the same objects
    assert clf.set_params(epochs=5) is clf and clf.get_params()["epochs"] == 5


def test_bad_target_shape_and_missing_accuracy():
    x, y = _binary_data()
    with pytest.raises(ValueError, match=r"y.shape=\(6, 1, 1\)"):
        KerasClassifier(build_classifier).fit(x, y.reshape(6, 1, 1))
    clf = KerasClassifier(build_classifier, metrics=(), epochs=1)
    clf.fit(x, y)
    with pytest.raises(ValueError, match="not configured to compute accuracy"):
        clf.score(x, y)


def test_regressor_predict_and_negative_loss_score():
    x = np.linspace(-1, 1, 8).reshape(8, 1)
    y = 3 * x[:, 0] + 1
    reg = KerasRegressor(build_regressor, lr=0.3, epochs=400, verbose=0)
    reg.fit(x, y)
    prediction = reg.predict(x)
    assert prediction.shape == (8,)
    np.testing.assert_allclose(prediction, y, atol=1e-3)
    assert reg.predict(x[:1]).shape == (1,)
    score = reg.score(x, y)
    assert -1e-5 < score <= 0.0


def test_scikit_learn_integration_with_stand_in_model():
    sklearn_model_selection = pytest.importorskip("sklearn.model_selection")
    from sklearn.base import clone
    from sklearn.base import is_classifier
    from sklearn.base import is_regressor
    x, y = _binary_data()
    x, y = np.concatenate([x] * 3), np.concatenate([y] * 3)
    clf = KerasClassifier(build_classifier, epochs=100, verbose=0)
    assert is_classifier(clf) and is_regressor(KerasRegressor(build_regressor))
    assert clone(clf).get_params() == clf.get_params()
    scores = sklearn_model_selection.cross_val_score(clf, x, y, cv=3)
    assert scores.tolist() == [1.0, 1.0, 1.0]
    search = sklearn_model_selection.GridSearchCV(clf, {"epochs": [1, 100]}, cv=3)
    search.fit(x, y)
    assert search.best_params_ == {"epochs": 100}
    reg_scores = sklearn_model_selection.cross_val_score(
        KerasRegressor(build_regressor, lr=0.3, epochs=50), np.arange(9.0).reshape(9, 1) / 9, np.arange(9.0), cv=3)
    assert reg_scores.shape == (3,) and (reg_scores <= 0).all()


def test_with_the_fitgen_engine():
    models = pytest.importorskip("fitgen.models")
    layers = pytest.importorskip("fitgen.layers")
    if not hasattr(layers, "Dense") or not hasattr(models, "Sequential"):
        pytest.skip("fitgen.layers.Dense / fitgen.models.Sequential are not wired yet")
    sklearn_model_selection = pytest.importorskip("sklearn.model_selection")

    def build(units=4):
        model = models.Sequential([layers.Dense(units, activation="relu", input_shape=(2,)),
                                   layers.Dense(2, activation="softmax")])
        model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
        return model

    rng = np.random.RandomState(0)
    x = rng.randn(60, 2)
    y = (x[:, 0] + x[:, 1] > 0).astype(int)
    clf = KerasClassifier(build, epochs=2, batch_size=10, verbose=0)
    scores = sklearn_model_selection.cross_val_score(clf, x, y, cv=3)
    assert scores.shape == (3,) and ((scores >= 0) & (scores <= 1)).all()
    search = sklearn_model_selection.GridSearchCV(clf, {"units": [2, 4]}, cv=2)
    search.fit(x, y)
    assert search.best_params_["units"] in (2, 4)
    assert search.predict(x).shape == (60,) and search.predict_proba(x).shape == (60, 2)

    def build_regressor(units=3):
        model = models.Sequential([layers.Dense(units, input_shape=(2,)), layers.Dense(1)])
        model.compile(optimizer="sgd", loss="mse")
        return model

    reg = KerasRegressor(build_regressor, epochs=2, verbose=0)
    reg.fit(x, x.sum(axis=1))
    assert reg.predict(x).shape == (60,) and reg.score(x, x.sum(axis=1)) <= 0
