"""fit / evaluate / predict / *_on_batch with arrays: every input Keras 2 accepts works (and gives the numbers of
the float path); everything else is refused with the exception type a Keras user catches and a message that
names the argument or input, before anything changes."""
import numpy as np
import pytest
import torch

from fitgen.engine.sequential import Sequential
from fitgen.layers import Dense, Embedding, Flatten, Input, concatenate
from fitgen.models import Model

RNG = np.random.default_rng(0)
X = RNG.random((12, 4)).astype("float32")
Y = RNG.random((12, 2)).astype("float32")
LABELS = np.arange(12) % 3


def mlp(loss="mse", units=2, input_shape=(4,), optimizer="sgd", weights=None):
    model = Sequential([Dense(units, input_shape=input_shape)] if input_shape else [Dense(units)])
    model.compile(optimizer, loss)
    if weights is not None:
        model.set_weights(weights)
    return model


def two_inputs():
    a, b = Input((2,), name="in_a"), Input((3,), name="in_b")
    model = Model([a, b], Dense(1, name="out")(concatenate([a, b])))
    model.compile("sgd", "mse")
    return model


def state(model):
    return [w.copy() for w in model.get_weights()], int(model.optimizer.iterations), model.history


def assert_unchanged(model, before):
    weights, iterations, history = before
    for old, new in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(old, new)
    assert int(model.optimizer.iterations) == iterations
    assert model.history is history


# ---------------------------------------------------------------------------------------------------- valid
@pytest.mark.parametrize("dtype", ["uint8", "int32", "int64", "uint16", "float16", "float64"])
def test_numeric_inputs_train_exactly_like_the_same_values_as_float32(dtype):
    images = (X * 255).astype("uint8")
    reference = mlp(optimizer="adam")
    start = reference.get_weights()
    expected = reference.fit(images.astype("float32"), Y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    model = mlp(optimizer="adam", weights=start)
    history = model.fit(images.astype(dtype), Y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    assert history.history["loss"] == expected.history["loss"]
    for a, b in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert model.evaluate(images.astype(dtype), Y, verbose=0) == reference.evaluate(images.astype("float32"), Y,
                                                                                       verbose=0)


def test_integer_and_bool_inputs_in_every_front_door():
    ints = np.arange(40).reshape(10, 4)
    model = mlp(loss="mse")
    floats = model.predict(ints.astype("float32"))
    np.testing.assert_array_equal(model.predict(ints), floats)
    np.testing.assert_array_equal(model.predict_on_batch(ints), floats)
    np.testing.assert_array_equal(model.predict(torch.arange(40).reshape(10, 4)), floats)
    np.testing.assert_array_equal(model.predict(ints.tolist()), floats)
    y = np.zeros((10, 2), "float32")
    assert model.test_on_batch(ints, y) == model.test_on_batch(ints.astype("float32"), y)
    assert model.evaluate(ints > 20, y, verbose=0) == model.evaluate((ints > 20).astype("float32"), y, verbose=0)
    assert np.isfinite(model.train_on_batch((X * 255).astype("uint8"), Y))
    history = model.fit(ints, y, validation_data=((X[:10] * 255).astype("uint8"), y), verbose=0)
    assert np.isfinite(history.history["val_loss"][0])


def test_model_built_from_integer_data_gets_a_float_input():
    model = mlp(input_shape=None)  # Sequential without input_shape: built from the first data
    model.fit((X * 255).astype("uint8"), Y, verbose=0)
    assert model.inputs[0].dtype == "float32"


@pytest.mark.parametrize("door", ["fit", "train_on_batch", "predict"])
def test_model_built_from_nested_lists_takes_the_shape_of_a_sample(door):
    model = mlp(input_shape=None)
    if door == "fit":
        model.fit(X.tolist(), Y.tolist(), verbose=0)
    elif door == "train_on_batch":
        model.train_on_batch(X.tolist(), Y)
    else:
        model.predict(X.tolist())
    assert tuple(model.inputs[0].shape) == (None, 4)


@pytest.mark.parametrize("dtype", ["uint8", "int16", "int32", "bool", "float32"])
def test_integer_input_takes_ids_of_any_numeric_dtype(dtype):
    ids = Input((3,), dtype="int64")
    model = Model(ids, Flatten()(Embedding(20, 2)(ids)))
    data = np.arange(12).reshape(4, 3) % 2
    np.testing.assert_array_equal(model.predict(data.astype(dtype)), model.predict(data))


@pytest.mark.parametrize("y,loss,units", [
    (LABELS, "sparse_categorical_crossentropy", 3),
    (LABELS.astype("uint8"), "sparse_categorical_crossentropy", 3),
    (LABELS.astype("float32"), "sparse_categorical_crossentropy", 3),
    (LABELS.tolist(), "sparse_categorical_crossentropy", 3),
    (LABELS == 0, "binary_crossentropy", 1),
    ((LABELS == 0).tolist(), "binary_crossentropy", 1),
    ([float(v) for v in LABELS], "mse", 1),
], ids=["int", "uint8", "integral-float", "list", "bool", "bool-list", "float-list"])
def test_targets_keras2_accepts(y, loss, units):
    model = mlp(loss=loss, units=units)
    reference = mlp(loss=loss, units=units, weights=model.get_weights())
    as_float = np.asarray(y, dtype="float32")
    assert model.train_on_batch(X, y) == pytest.approx(reference.train_on_batch(X, as_float))
    assert np.isfinite(model.fit(X, y, verbose=0).history["loss"][0])


@pytest.mark.parametrize("weights", [[1] * 12, np.ones(12, "int64"), np.ones(12, bool), [1.0] * 12],
                         ids=["int-list", "int-array", "bool", "float-list"])
def test_sample_weights_keras2_accepts(weights):
    model = mlp()
    reference = mlp(weights=model.get_weights())
    assert model.test_on_batch(X, Y, sample_weight=weights) == reference.test_on_batch(X, Y,
                                                                                     sample_weight=np.ones(12))


def test_object_array_of_numbers_is_fed_like_keras2():
    model = mlp()
    np.testing.assert_array_equal(model.predict(X.astype(object)), model.predict(X))


# -------------------------------------------------------------------------------------------------- refused
FRONT_DOORS = {
    "fit": lambda m, x, y: m.fit(x, y, verbose=0),
    "evaluate": lambda m, x, y: m.evaluate(x, y, verbose=0),
    "train_on_batch": lambda m, x, y: m.train_on_batch(x, y),
    "test_on_batch": lambda m, x, y: m.test_on_batch(x, y),
}


@pytest.mark.parametrize("door", FRONT_DOORS)
@pytest.mark.parametrize("x,error,words", [
    (np.array([["a"] * 4] * 12), TypeError, r"`x` holds strings"),
    (np.array([[1, "a", 2, 3]] * 12, dtype=object), TypeError, r"`x` .*Python objects.*str"),
    ([[1, 2, 3, 4], [1, 2]] * 6, ValueError, r"`x` holds sequences of different lengths.*pad_sequences"),
    (np.array([[1, 2, 3, 4], [1, 2]] * 6, dtype=object), ValueError, r"`x` .*different lengths.*pad_sequences"),
    (X.astype("complex64"), TypeError, r"`x` holds complex numbers"),
    (5.0, ValueError, r"`x` must be an array with one entry per sample"),
    (np.zeros((12, 5)), ValueError, r"input 'dense(_\d+)?_input' to have shape \(4,\)"),
], ids=["strings", "objects", "ragged-list", "ragged-objects", "complex", "scalar", "features"])
def test_bad_x_is_refused_naming_it_and_nothing_changes(door, x, error, words):
    model = mlp()
    before = state(model)
    with pytest.raises(error, match=words):
        FRONT_DOORS[door](model, x, Y)
    assert_unchanged(model, before)


@pytest.mark.parametrize("door", FRONT_DOORS)
@pytest.mark.parametrize("y,error,words", [
    (Y.astype("complex128"), TypeError, r"`y` holds complex numbers"),
    ("labels", TypeError, r"`y` must be an array of numbers"),
    (np.array([["a", "b"]] * 12), TypeError, r"`y` holds strings"),
], ids=["complex", "string", "string-array"])
def test_bad_y_is_refused_naming_it(door, y, error, words):
    model = mlp()
    before = state(model)
    with pytest.raises(error, match=words):
        FRONT_DOORS[door](model, X, y)
    assert_unchanged(model, before)


@pytest.mark.parametrize("door", FRONT_DOORS)
@pytest.mark.parametrize("labels,value", [(np.full(12, 3), "3"), (np.full(12, -1), "-1"), (np.full(12, 7.0), "7.0")])
def test_sparse_labels_out_of_range_name_the_loss_the_value_and_the_classes(door, labels, value):
    model = mlp(loss="sparse_categorical_crossentropy", units=3)
    before = state(model)
    with pytest.raises(ValueError, match=rf"label value of {value} .*\[0, 3\).*'dense(_\d+)?'.*"
                                         r"sparse_categorical_crossentropy.*3 units"):
        FRONT_DOORS[door](model, X, labels)
    assert_unchanged(model, before)


def test_a_none_in_a_list_of_inputs_says_which_input_has_no_data():
    model = two_inputs()
    with pytest.raises(ValueError, match=r'No data provided for "in_b": `x\[1\]` is None'):
        model.fit([np.zeros((4, 2)), None], np.zeros((4, 1)), verbose=0)
    with pytest.raises(ValueError, match=r'No data provided for "in_a": `x\[\'in_a\'\]` is None'):
        model.predict({"in_a": None, "in_b": np.zeros((4, 3))})


@pytest.mark.parametrize("call,words", [
    (lambda m: m.train_on_batch(None, Y), r"`train_on_batch` needs input data: `x` is None"),
    (lambda m: m.test_on_batch(None, Y), r"`test_on_batch` needs input data: `x` is None"),
    (lambda m: m.predict_on_batch(None), r"`predict_on_batch` needs input data: `x` is None"),
    (lambda m: m.train_on_batch(X, None), r"Target data is missing.*`train_on_batch\(\)`"),
    (lambda m: m.fit(X, Y, validation_data=(None, None), verbose=0), r"`validation_data` has no inputs"),
    (lambda m: m.fit(X, Y, validation_data=(X, None), verbose=0), r"`validation_data` has no targets"),
    (lambda m: m.predict(None), r"`predict` needs input data"),
], ids=["train_on_batch", "test_on_batch", "predict_on_batch", "no-targets", "validation-none",
        "validation-no-y", "predict"])
def test_missing_data_is_a_value_error_never_a_bare_stop_iteration(call, words):
    model = mlp()
    before = state(model)

    def inside_a_generator():  # a StopIteration escaping here would end the user's generator silently
        yield call(model)

    with pytest.raises(ValueError, match=words):
        next(inside_a_generator())
    assert_unchanged(model, before)
