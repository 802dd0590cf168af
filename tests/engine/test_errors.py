"""Bad input gets a clear error that names the argument, what was expected and what was received."""
import numpy as np
import pytest

from fitgen.engine.sequential import Sequential
from fitgen.layers import Dense, Embedding, Input, concatenate
from fitgen.models import Model


def model(loss="mse", units=2, input_dim=3, activation=None, compile=True, metrics=None):
    m = Sequential([Dense(units, input_shape=(input_dim,), activation=activation)])
    if compile:
        m.compile("sgd", loss, metrics)
    return m


def two_inputs():
    a, b = Input((2,), name="in_a"), Input((3,), name="in_b")
    m = Model([a, b], Dense(1, name="out")(concatenate([a, b])))
    m.compile("sgd", "mse")
    return m


X = np.zeros((10, 3), dtype="float32")
Y = np.zeros((10, 2), dtype="float32")


@pytest.mark.parametrize("method", ["fit", "evaluate", "train_on_batch", "test_on_batch"])
def test_not_compiled_says_to_call_compile(method):
    m = model(compile=False)
    with pytest.raises(RuntimeError, match=r"compile"):
        getattr(m, method)(X, Y)


def test_predict_works_without_compile():
    assert model(compile=False).predict(X).shape == (10, 2)


@pytest.mark.parametrize("kind,name", [("optimizer", "adamw_typo"), ("loss", "msee"), ("metric", "acuracy"),
                                       ("activation", "relux")])
def test_unknown_names_are_named_with_the_accepted_ones(kind, name):
    m = model(compile=False)
    with pytest.raises(ValueError, match=name) as info:
        if kind == "optimizer":
            m.compile(name, "mse")
        elif kind == "loss":
            m.compile("sgd", name)
        elif kind == "metric":
            m.compile("sgd", "mse", [name])
        else:
            Dense(2, activation=name)
    assert "accepted" in str(info.value).lower() or "known" in str(info.value).lower() or "valid" in \
        str(info.value).lower()


def test_input_shape_mismatch_names_input_expected_and_received():
    with pytest.raises(ValueError, match=r"dense_input.*\(3,\).*\(4,\)"):
        model().fit(np.zeros((10, 4)), Y, verbose=0)


def test_target_shape_mismatch():
    with pytest.raises(ValueError, match=r"target.*\(2,\).*\(5,\)"):
        model().fit(X, np.zeros((10, 5)), verbose=0)


def test_x_and_y_sample_counts_differ():
    with pytest.raises(ValueError, match=r"10 input samples and 9 target samples"):
        model().fit(X, Y[:9], verbose=0)


def test_inputs_with_different_sample_counts():
    with pytest.raises(ValueError, match=r"same number of samples"):
        two_inputs().fit([np.zeros((10, 2)), np.zeros((9, 3))], np.zeros((10, 1)), verbose=0)


def test_dict_key_naming_no_input_lists_existing_names():
    with pytest.raises(ValueError, match=r"\['in_x'\].*\['in_a', 'in_b'\]"):
        two_inputs().fit({"in_a": np.zeros((4, 2)), "in_x": np.zeros((4, 3))}, np.zeros((4, 1)), verbose=0)


def test_missing_input():
    with pytest.raises(ValueError, match=r'No data provided for "in_b"'):
        two_inputs().fit({"in_a": np.zeros((4, 2))}, np.zeros((4, 1)), verbose=0)


def test_wrong_number_of_arrays():
    with pytest.raises(ValueError, match=r"Expected to see 2 array"):
        two_inputs().fit([np.zeros((4, 2))], np.zeros((4, 1)), verbose=0)


@pytest.mark.parametrize("split", [-0.1, 1.0, 1.5])
def test_validation_split_outside_unit_interval(split):
    with pytest.raises(ValueError, match="validation_split"):
        model().fit(X, Y, validation_split=split, verbose=0)


def test_validation_split_with_too_few_samples():
    with pytest.raises(ValueError, match=r"not sufficient to split"):
        model().fit(X[:1], Y[:1], validation_split=0.5, verbose=0)


def test_validation_split_with_a_generator():
    def gen():
        while True:
            yield X, Y
    with pytest.raises(ValueError, match="validation_split"):
        model().fit(gen(), steps_per_epoch=1, validation_split=0.2, verbose=0)


def test_class_weight_key_that_is_not_a_class():
    m = model(loss="categorical_crossentropy", activation="softmax")
    y = np.eye(2, dtype="float32")[np.arange(10) % 2]
    with pytest.raises(ValueError, match=r"keys \[5\].*not classes"):
        m.fit(X, y, class_weight={0: 1.0, 1: 1.0, 5: 2.0}, verbose=0)


def test_class_weight_missing_a_class_in_the_data():
    m = model(loss="categorical_crossentropy", activation="softmax")
    y = np.eye(2, dtype="float32")[np.arange(10) % 2]
    with pytest.raises(ValueError, match=r"classes \[1\] exist in the data"):
        m.fit(X, y, class_weight={0: 1.0}, verbose=0)


def test_sample_weight_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"sample_weight"):
        model().fit(X, Y, sample_weight=np.ones((10, 4)), verbose=0)
    with pytest.raises(ValueError, match=r"sample_weight"):
        model().fit(X, Y, sample_weight=np.ones(7), verbose=0)


@pytest.mark.parametrize("value", [0, -3, 2.5])
def test_batch_size_must_be_a_positive_integer(value):
    with pytest.raises(ValueError, match=r"batch_size"):
        model().fit(X, Y, batch_size=value, verbose=0)


def test_float_labels_for_sparse_crossentropy_must_be_integral():
    m = model(loss="sparse_categorical_crossentropy", activation="softmax")
    with pytest.raises(ValueError, match=r"sparse_categorical_crossentropy.*integer"):
        m.fit(X, np.full((10, 1), 0.5, dtype="float32"), verbose=0)
    m.fit(X, np.ones((10, 1), dtype="float32"), verbose=0)  # integral floats are fine


def test_one_hot_targets_with_sparse_loss_and_integer_targets_with_categorical_loss():
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy"):
        model(loss="sparse_categorical_crossentropy", activation="softmax").fit(X, Y, verbose=0)
    with pytest.raises(ValueError, match="to_categorical"):
        model(loss="categorical_crossentropy", activation="softmax").fit(X, np.zeros((10, 1)), verbose=0)


def test_loss_dict_with_unknown_output():
    m = two_inputs()
    with pytest.raises(ValueError, match=r'Unknown entry in loss dictionary: "nope"'):
        m.compile("sgd", {"nope": "mse"})


def test_unknown_fit_keyword():
    with pytest.raises(TypeError, match="Unrecognized keyword"):
        model().fit(X, Y, bogus=1)


def test_validation_data_of_wrong_length():
    with pytest.raises(ValueError, match="validation_data"):
        model().fit(X, Y, validation_data=(X,), verbose=0)


def test_y_with_a_generator_is_rejected():
    def gen():
        while True:
            yield X, Y
    with pytest.raises(ValueError, match=r"`y` argument is not supported"):
        model().fit(gen(), Y, steps_per_epoch=1, verbose=0)


def test_plain_generator_needs_steps_per_epoch():
    def gen():
        while True:
            yield X, Y
    with pytest.raises(ValueError, match=r"steps_per_epoch=None"):
        model().fit_generator(gen(), verbose=0)


def test_set_weights_with_wrong_count_and_shape():
    m = model()
    with pytest.raises(ValueError, match=r"expecting 2 weights"):
        m.set_weights([np.zeros((3, 2))])
    with pytest.raises(ValueError, match=r"\(3, 2\).*\(2, 3\)"):
        m.set_weights([np.zeros((2, 3)), np.zeros(2)])


def test_unknown_layer_keyword():
    with pytest.raises(TypeError, match="bogus"):
        Dense(3, bogus=True)


def test_embedding_index_out_of_range_is_clear():
    m = Sequential([Embedding(5, 2, input_length=3)])
    with pytest.raises((ValueError, IndexError), match=r"5|range"):
        m.predict(np.full((2, 3), 9))


def test_graph_disconnected():
    a, b = Input((2,)), Input((2,))
    out = Dense(1)(concatenate([a, b]))
    with pytest.raises(ValueError, match="Graph disconnected"):
        Model(a, out)
