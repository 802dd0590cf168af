"""The arguments of fit / evaluate / predict (validation_*, class_weight, sample_weight, callbacks, ...): each bad
value is refused before anything runs, with TypeError for a value of the wrong type and ValueError for a bad
value, naming the argument; nothing changes (weights, optimizer state, History)."""
import numpy as np
import pytest

from fitgen.callbacks import Callback, History
from fitgen.engine.sequential import Sequential
from fitgen.layers import Dense

X = np.random.default_rng(2).random((10, 3)).astype("float32")
Y = np.eye(2, dtype="float32")[np.arange(10) % 2]


def classifier():
    model = Sequential([Dense(2, input_shape=(3,), activation="softmax")])
    model.compile("adam", "categorical_crossentropy")
    return model


def batches():
    while True:
        yield X, Y


FIT_CASES = [
    (dict(validation_data=(X, Y), validation_steps=0), ValueError, r"`validation_steps`.*positive.*0"),
    (dict(validation_data=batches(), validation_steps=0), ValueError, r"`validation_steps`"),
    (dict(validation_data=(X, Y), validation_freq="x"), TypeError, r"`validation_freq`.*'x'"),
    (dict(validation_data=(X, Y), validation_freq=None), TypeError, r"`validation_freq`.*None"),
    (dict(validation_data=(X, Y), validation_freq=2.5), ValueError, r"`validation_freq`.*2.5"),
    (dict(validation_data=(X, Y), validation_freq=0), ValueError, r"`validation_freq`"),
    (dict(validation_data=(X, Y), validation_freq=[1, "a"]), ValueError, r"`validation_freq`.*epochs"),
    (dict(validation_data=(X, Y), validation_batch_size=0), ValueError, r"`validation_batch_size`.*0"),
    (dict(validation_data=(X, Y), validation_batch_size=-1), ValueError, r"`validation_batch_size`.*-1"),
    (dict(validation_data=(X, Y), validation_batch_size="8"), TypeError, r"`validation_batch_size`"),
    (dict(sample_weight=1.0), ValueError, r"`sample_weight` must be an array with one entry per sample"),
    (dict(sample_weight="w"), TypeError, r"`sample_weight` must be an array of numbers"),
    (dict(sample_weight=np.ones(10, complex)), TypeError, r"`sample_weight` holds complex"),
    (dict(validation_data=(X, Y, "w")), TypeError, r"`val_sample_weight` must be an array of numbers"),
    (dict(validation_data=(X, Y, 1.0)), ValueError, r"`val_sample_weight` must be an array with one entry"),
    (dict(validation_data=(X, "y")), TypeError, r"`y_val` must be an array of numbers"),
    (dict(validation_data=(X[:, :2], Y)), ValueError, r"input 'dense(_\d+)?_input' to have shape \(3,\)"),
    (dict(validation_data=(X,)), ValueError, r"validation_data.*2 .*or 3 .*1 items"),
    (dict(validation_data=(None, None)), ValueError, r"`validation_data` has no inputs"),
    (dict(class_weight={0: None, 1: 1.0}), TypeError, r"`class_weight` weights must be numbers.*None.*class 0"),
    (dict(class_weight={"a": 1.0}), TypeError, r"`class_weight` keys must be integer class indices.*'a'"),
    (dict(class_weight={0: "x", 1: 1.0}), TypeError, r"`class_weight` weights must be numbers.*'x'"),
    (dict(class_weight={0: float("nan"), 1: 1.0}), ValueError, r"`class_weight` weights must be finite"),
    (dict(class_weight={-1: 1.0}), ValueError, r"`class_weight` keys must be non-negative"),
    (dict(class_weight={0: 1.0, 1: 1.0, 5: 2.0}), ValueError, r"`class_weight` has keys \[5\]"),
    (dict(class_weight=[1.0, 2.0]), TypeError, r"`class_weight` must be a dict"),
    (dict(validation_split="0.2"), TypeError, r"`validation_split`.*'0.2'"),
    (dict(validation_split=1.5), ValueError, r"`validation_split` must be in \[0, 1\)"),
    (dict(validation_split=float("nan")), ValueError, r"`validation_split` must be in \[0, 1\)"),
    (dict(callbacks=object()), TypeError, r"`callbacks` must be a list of fitgen.callbacks.Callback"),
    (dict(callbacks=[History(), "cb"]), TypeError, r"`callbacks\[1\]`"),
    (dict(batch_size="32"), TypeError, r"`batch_size`.*'32'"),
    (dict(batch_size=2.5), ValueError, r"`batch_size`.*2.5"),
    (dict(epochs=-1), ValueError, r"`epochs`"),
    (dict(epochs="2"), TypeError, r"`epochs`"),
    (dict(shuffle="yes"), ValueError, r"`shuffle` must be True, False or 'batch'"),
    (dict(verbose="loud"), TypeError, r"`verbose`"),
    (dict(workers=-1), ValueError, r"`workers`"),
    (dict(timeout=0), ValueError, r"`timeout`"),
    (dict(timeout="soon"), TypeError, r"`timeout`"),
    (dict(steps_per_epoch=0), ValueError, r"`steps_per_epoch`"),
]


@pytest.mark.parametrize("kwargs,error,words", FIT_CASES, ids=[f"{next(iter(k))}-{i}" for i, (k, _, _)
                                                                in enumerate(FIT_CASES)])
def test_fit_argument_is_refused_naming_it_and_nothing_changes(kwargs, error, words):
    model = classifier()
    model.fit(X, Y, epochs=1, verbose=0)
    weights, iterations, history = model.get_weights(), int(model.optimizer.iterations), model.history
    with pytest.raises(error, match=words):
        model.fit(X, Y, **dict(dict(epochs=2, verbose=0), **kwargs))
    for a, b in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert int(model.optimizer.iterations) == iterations
    assert model.history is history and len(history.history["loss"]) == 1


@pytest.mark.parametrize("call,error,words", [
    (lambda m: m.predict(X, steps=0), ValueError, r"`steps`.*positive"),
    (lambda m: m.predict(X, batch_size=0), ValueError, r"`batch_size`"),
    (lambda m: m.predict(X, callbacks=object()), TypeError, r"`callbacks`"),
    (lambda m: m.predict(X, verbose="x"), TypeError, r"`verbose`"),
    (lambda m: m.evaluate(X, Y, steps=0, verbose=0), ValueError, r"`steps`"),
    (lambda m: m.evaluate(X, Y, sample_weight=2.0, verbose=0), ValueError, r"`sample_weight`"),
    (lambda m: m.evaluate(X, Y, callbacks=42, verbose=0), TypeError, r"`callbacks`"),
    (lambda m: m.train_on_batch(X, Y, class_weight={0: "x", 1: 1}), TypeError, r"`class_weight`"),
    (lambda m: m.train_on_batch(X, Y, sample_weight=1.0), ValueError, r"`sample_weight`"),
    (lambda m: m.fit_generator(batches(), steps_per_epoch=1, validation_data=batches(), validation_steps=0,
                               verbose=0), ValueError, r"`validation_steps`"),
    (lambda m: m.fit_generator(batches(), steps_per_epoch=1, validation_freq="x", verbose=0), TypeError,
     r"`validation_freq`"),
], ids=["predict-steps", "predict-batch_size", "predict-callbacks", "predict-verbose", "evaluate-steps",
        "evaluate-sample_weight", "evaluate-callbacks", "train_on_batch-class_weight",
        "train_on_batch-sample_weight", "fit_generator-validation_steps", "fit_generator-validation_freq"])
def test_other_front_doors_check_their_arguments(call, error, words):
    model = classifier()
    weights = model.get_weights()
    with pytest.raises(error, match=words):
        call(model)
    for a, b in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_valid_spellings_keras2_accepts():
    model = classifier()
    history = model.fit(X, Y, epochs=2, verbose=0, validation_data=(X, Y), validation_freq=range(1, 3),
                        validation_batch_size=4, callbacks=(History(),), class_weight={}, shuffle=np.bool_(True))
    assert len(history.history["val_loss"]) == 2
    assert model.fit(X, Y, verbose=0, callbacks=Callback()).history["loss"]  # one Callback alone, as tf-keras
    assert model.fit(X, Y, verbose=0, class_weight={np.int64(0): 1, 1.0: np.float32(2)}).history["loss"]
    assert model.fit(X, Y, validation_split=np.float32(0.2), verbose=0).history["val_loss"]
    assert model.fit(X, Y, verbose="auto", epochs=1, batch_size=np.int64(5)).history["loss"]
