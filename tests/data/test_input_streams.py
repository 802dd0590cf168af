"""Generators, Sequences, torch Datasets and DataLoaders get the checks arrays get, naming the batch: the first
batch of every epoch in full, every other batch by its shapes and dtypes; integer and bool batches work."""
import os

import numpy as np
import pytest
import torch

from fitgen.engine.sequential import Sequential
from fitgen.layers import Dense
from fitgen.utils import Sequence
from helpers.pipeline_sources import Samples

RNG = np.random.default_rng(1)
X = RNG.random((8, 4)).astype("float32")
Y = RNG.random((8, 2)).astype("float32")

WORKERS = [pytest.param({"workers": 0}, id="main-thread"), pytest.param({"workers": 1}, id="thread"),
           pytest.param({"workers": 1, "use_multiprocessing": True}, id="process")]


def mlp(loss="mse", units=2, weights=None):
    model = Sequential([Dense(units, input_shape=(4,))])
    model.compile("sgd", loss)
    if weights is not None:
        model.set_weights(weights)
    return model


class Batches(Sequence):
    """A Sequence over a fixed list of (x, y) items; item i of epoch e is `items[i]` or `epochs[e][i]`."""

    def __init__(self, items, epochs=None):
        self.items, self.epochs, self.epoch = items, epochs, 0

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        return (self.epochs[self.epoch] if self.epochs else self.items)[index]

    def on_epoch_end(self):
        self.epoch += 1


def generator(items):
    while True:
        yield from items


def as_kind(kind, items):
    """The same batches as a generator, a Sequence, a torch Dataset (one batch of 8) or a DataLoader."""
    if kind == "generator":
        return generator(items), dict(steps_per_epoch=len(items))
    if kind == "sequence":
        return Batches(items), dict(shuffle=False)
    x = np.concatenate([i[0] for i in items])
    y = np.concatenate([i[1] for i in items])
    if kind == "dataset":
        return Samples(x, y), dict(batch_size=len(items[0][0]), shuffle=False)
    return torch.utils.data.DataLoader(Samples(x, y), batch_size=len(items[0][0])), {}


KINDS = ["generator", "sequence", "dataset", "dataloader"]


# ---------------------------------------------------------------------------------------------------- valid
@pytest.mark.parametrize("kind", KINDS)
def test_uint8_batches_train_exactly_like_the_same_values_as_float32(kind):
    images = (X * 255).astype("uint8")
    reference = mlp()
    start = reference.get_weights()
    data, options = as_kind(kind, [(images.astype("float32"), Y)] * 2)
    expected = reference.fit(data, epochs=2, verbose=0, workers=0, **options).history["loss"]
    model = mlp(weights=start)
    data, options = as_kind(kind, [(images, Y)] * 2)
    assert model.fit(data, epochs=2, verbose=0, workers=0, **options).history["loss"] == expected
    for a, b in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("options", WORKERS)
def test_integer_labels_bool_targets_and_integer_inputs_in_streams(options):
    labels = (np.arange(8) % 2).astype("uint8")
    sparse = mlp("sparse_categorical_crossentropy")
    assert np.isfinite(sparse.fit(Batches([(X, labels)] * 2), verbose=0, **options).history["loss"][0])
    binary = mlp("binary_crossentropy", units=1)
    assert np.isfinite(binary.fit(Batches([(X, labels == 1)] * 2), verbose=0, **options).history["loss"][0])
    ints = np.arange(32).reshape(8, 4)
    model = mlp()
    np.testing.assert_array_equal(model.predict(Batches([(ints,)] * 2), **options),
                                  np.concatenate([model.predict(ints.astype("float32"))] * 2))


# -------------------------------------------------------------------------------------------------- refused
@pytest.mark.parametrize("options", WORKERS)
@pytest.mark.parametrize("kind", KINDS)
def test_wrong_feature_count_names_the_batch_and_the_input(kind, options):
    model = mlp()
    before = model.get_weights()
    data, fit_options = as_kind(kind, [(np.zeros((4, 5), "float32"), np.zeros((4, 2), "float32"))] * 2)
    with pytest.raises(ValueError, match=r"batch 0 of epoch 1 of the training data .*input 'dense(_\d+)?_input' "
                                         r"to have shape \(4,\) but got array with shape \(5,\)"):
        model.fit(data, verbose=0, **fit_options, **options)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert model.history is None


def test_a_later_batch_of_another_shape_is_caught_by_its_signature():
    items = [(X, Y), (X, Y), (np.zeros((8, 5), "float32"), Y)]
    with pytest.raises(ValueError, match=r"batch 2 of epoch 1 .*\(Batches\[2\]\).*shape \(4,\)"):
        mlp().fit(Batches(items), shuffle=False, verbose=0, workers=0)
    items = [(X, Y), (X, Y), (X, np.zeros((8, 3), "float32"))]
    with pytest.raises(ValueError, match=r"batch 2 of epoch 1 of the training data \(generator\).*target"):
        mlp().fit(generator(items), steps_per_epoch=3, verbose=0)


def test_the_first_batch_of_every_epoch_is_checked_in_full():
    good = [(X, np.zeros(8, "int64"))] * 2
    bad = [(X, np.full(8, 5, "int64"))] * 2  # same shapes and dtypes: only a full check sees the labels
    model = mlp("sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"batch 0 of epoch 2 .*label value of 5 .*\[0, 2\)"):
        model.fit(Batches(good, epochs=[good, bad]), epochs=2, shuffle=False, verbose=0, workers=0)
    assert len(model.history.history["loss"]) == 1


@pytest.mark.parametrize("options", WORKERS)
def test_integer_labels_with_categorical_crossentropy(options):
    data = generator([(X, np.zeros((8, 1), "int64"))])
    with pytest.raises(ValueError, match=r"batch 0 .*categorical_crossentropy.*to_categorical"):
        mlp("categorical_crossentropy").fit(data, steps_per_epoch=2, verbose=0, **options)


@pytest.mark.parametrize("options", WORKERS)
def test_sparse_labels_out_of_range_in_a_stream(options):
    data = Batches([(X, np.full(8, 9))] * 2)
    with pytest.raises(ValueError, match=r"batch 0 .*label value of 9 .*'dense(_\d+)?'.*sparse_categorical_"
                                         r"crossentropy.*2 units"):
        mlp("sparse_categorical_crossentropy").fit(data, verbose=0, **options)


@pytest.mark.parametrize("bad", [9, -1])
def test_a_bad_class_index_in_a_later_batch_of_the_same_signature_is_named(bad):
    # Only an epoch's first batch has its label values read; a later one fails inside the loss, and is reported
    # with the value, the valid range, the output and its loss instead of torch's "Target 9 is out of bounds".
    items = [(X, np.zeros(8, "int64")), (X, np.array([0, 1, bad, 0, 1, 0, 1, 0]))]
    model = mlp("sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=rf"label value of {bad} .*\[0, 2\) for output 'dense(_\d+)?'.*"
                                         r"sparse_categorical_crossentropy"):
        model.fit(Batches(items), shuffle=False, verbose=0, workers=0)
    assert int(model.optimizer.iterations) == 1  # the first batch's update is kept
    with pytest.raises(ValueError, match=rf"label value of {bad} "):
        model.evaluate(Batches(items), verbose=0)


@pytest.mark.parametrize("x,error,words", [
    (np.array([["a"] * 4] * 8), TypeError, r"`x` holds strings"),
    (X.astype("complex64"), TypeError, r"`x` holds complex"),
    (np.zeros((8, 4), object), None, None),
], ids=["strings", "complex", "object-numbers"])
def test_non_numeric_batches_name_the_input(x, error, words):
    model = mlp()
    if error is None:
        assert np.isfinite(model.fit(generator([(x, Y)]), steps_per_epoch=1, verbose=0).history["loss"][0])
        return
    with pytest.raises(error, match=r"batch 0 .*" + words):
        model.fit(generator([(x, Y)]), steps_per_epoch=1, verbose=0)
    with pytest.raises(error, match=r"batch 0 .*" + words.replace("`x`", "`y`")):
        model.fit(generator([(X, x[:, :2])]), steps_per_epoch=1, verbose=0)


@pytest.mark.parametrize("item,error,words", [
    (3, ValueError, r"batch 0 .*should be a tuple `\(x, y, sample_weight\)` or `\(x, y\)`. Found: int"),
    ((X, Y, np.ones(8), np.ones(8)), ValueError, r"batch 0 .*Found: tuple of length 4"),
    ((X, Y[:7]), ValueError, r"batch 0 .*8 input samples and 7 target samples"),
    ((X, "y"), TypeError, r"batch 0 .*`y` must be an array of numbers"),
    ((X, Y, 1.0), ValueError, r"batch 0 .*`sample_weight` must be an array with one entry per sample"),
    ((X,), ValueError, r"batch 0 .*has no targets"),
], ids=["scalar", "4-tuple", "counts", "string-y", "scalar-weight", "no-targets"])
def test_malformed_items_name_the_batch(item, error, words):
    with pytest.raises(error, match=words):
        mlp().fit(generator([item]), steps_per_epoch=1, verbose=0)


def test_predict_and_evaluate_and_validation_batches_are_checked_too():
    bad = generator([(np.zeros((8, 5), "float32"), Y)])
    with pytest.raises(ValueError, match=r"batch 0 of the evaluation data"):
        mlp().evaluate(bad, steps=1, verbose=0)
    with pytest.raises(ValueError, match=r"batch 0 of the prediction data"):
        mlp().predict(generator([np.zeros((8, 5), "float32")]), steps=1)
    with pytest.raises(ValueError, match=r"batch 0 of the prediction data .*single number"):
        mlp().predict(generator([7]), steps=1)
    with pytest.raises(ValueError, match=r"batch 0 of the validation data"):
        mlp().fit(X, Y, validation_data=bad, validation_steps=1, verbose=0)


@pytest.mark.parametrize("length,error,words", [
    (2.5, TypeError, r"`len\(\)` of the Sequence Odd returned 2.5 of type float"),
    (-1, ValueError, r"`len\(\)` of the Sequence Odd returned -1"),
    ("2", TypeError, r"returned '2' of type str"),
])
def test_sequence_whose_len_is_not_a_count(length, error, words):
    class Odd(Batches):
        def __len__(self):
            return length

    with pytest.raises(error, match=words):
        mlp().fit(Odd([(X, Y)]), verbose=0)


@pytest.mark.parametrize("options", [{"workers": 1}, {"workers": 1, "use_multiprocessing": True}],
                         ids=["thread", "process"])
def test_unreadable_image_in_a_worker_keeps_its_type_and_path(tmp_path, options):
    pytest.importorskip("PIL")
    from helpers.images import make_image_folder

    from fitgen.preprocessing.image import ImageDataGenerator, UnreadableImageError
    make_image_folder(str(tmp_path), {"a": 2, "b": 2})
    broken = os.path.join(str(tmp_path), "b", "broken.png")
    with open(broken, "wb") as f:
        f.write(b"not a png")
    flow = ImageDataGenerator().flow_from_directory(str(tmp_path), target_size=(8, 8), batch_size=5,
                                                    class_mode="sparse", shuffle=False)
    model = Sequential([Dense(2, input_shape=(8, 8, 3))])
    model.compile("sgd", "sparse_categorical_crossentropy")
    with pytest.raises(UnreadableImageError) as info:
        model.predict(flow, **options)
    assert info.value.path.endswith("broken.png")
    assert "broken.png" in str(info.value)
