"""Seeded random inputs (dtype x shape x container x front door x worker kind): each call either works, or raises
ValueError / TypeError naming an argument or input, never another exception type and never a torch message,
with the weights and optimizer state unchanged. An oracle says which calls must work: numeric data of the right
shapes (in any container) must; anything else must be refused."""
import random
import re

import numpy as np
import pytest
import torch

from fitgen.engine.sequential import Sequential
from fitgen.layers import Dense
from fitgen.utils import Sequence
from helpers.pipeline_sources import Samples

SEED = 20240613
CASES = 300
FEATURES, UNITS = 4, 3
DTYPES = ["float32", "float64", "float16", "uint8", "int8", "int32", "int64", "bool", "complex64", "object",
          "object-str", "str"]
NUMERIC = {"float32", "float64", "float16", "uint8", "int8", "int32", "int64", "bool", "object"}
X_SHAPES = ["ok", "ok", "ok", "features", "rank", "flat", "empty"]
Y_SHAPES = ["ok", "ok", "ok", "columns", "count"]
CONTAINERS = ["numpy", "numpy", "torch", "list", "dict"]
ARRAY_DOORS = ["fit", "evaluate", "predict", "train_on_batch", "test_on_batch", "predict_on_batch",
               "fit-validation"]
STREAM_DOORS = ["fit-generator", "fit-sequence", "evaluate-generator", "predict-sequence", "fit-dataset",
                "fit-dataloader"]
WEIGHTS = [None, None, None, "ok", "ints", "scalar", "count", "str", "columns"]
LOSSES = ["mse", "sparse_categorical_crossentropy"]
# Words that only torch (or NumPy) would write: a message with one of them reached the user unexplained.
FOREIGN = re.compile(r"mat1|mat2|Expected tensor|must match the size|out of bounds|can't convert np\.ndarray|"
                     r"scalar type|not implemented for|inhomogeneous|invalid literal|object is not iterable|"
                     r"index \d+ is out of bounds")
NAMES = re.compile(r"`(x|y|sample_weight|x_val|y_val|validation_data|steps)|input '|target '|output '|"
                   r"Input arrays|All input arrays|[Bb]atch \d+|No data provided|Target data is missing")


def make_array(rng, dtype, shape):
    base = rng.integers(0, 2, size=shape) if dtype in ("bool", "int8", "uint8") else rng.integers(0, UNITS, shape)
    if dtype == "object":
        return base.astype("float64").astype(object)
    if dtype == "object-str":
        array = base.astype(object)
        if array.size:  # text in every sample, so every batch of a stream holds some
            array.reshape(len(array), -1)[:, 0] = "a"
        return array
    if dtype == "str":
        return base.astype(str)
    return base.astype(dtype)


def x_shape(kind, n):
    return {"ok": (n, FEATURES), "features": (n, FEATURES + 1), "rank": (n, FEATURES, 1), "flat": (n,),
            "empty": (0, FEATURES)}[kind]


def y_shape(kind, n, loss):
    width = UNITS if loss == "mse" else 1
    return {"ok": (n, width), "columns": (n, width + 2), "count": (n + 1, width)}[kind]


def contain(array, container):
    if container == "torch" and array.dtype.kind in "biufc" and array.dtype != np.float16:
        return torch.from_numpy(np.ascontiguousarray(array))
    if container == "list":
        return array.tolist()
    return array


def case(rng, index):
    door = rng.choice(ARRAY_DOORS + STREAM_DOORS)
    loss = rng.choice(LOSSES)
    x_dtype = rng.choice(DTYPES) if rng.random() < 0.6 else rng.choice(sorted(NUMERIC))
    y_dtype = rng.choice(DTYPES[:8] + ["complex64", "str"])
    shapes = rng.choice(X_SHAPES), rng.choice(Y_SHAPES)
    container = rng.choice(CONTAINERS)
    workers = {"workers": 1, "use_multiprocessing": True} if index % 25 == 0 else \
        {"workers": rng.choice([0, 1])}
    # labels outside [0, UNITS) for the sparse loss
    sparse_bad = loss != "mse" and y_dtype in ("float32", "float64", "int32", "int64") and rng.random() < 0.2
    weights = rng.choice(WEIGHTS) if door in ("fit", "evaluate", "train_on_batch", "test_on_batch",
                                              "fit-generator", "fit-sequence") else None
    if door in ("fit-dataset", "fit-dataloader"):
        container = "numpy"
    return dict(door=door, loss=loss, x_dtype=x_dtype, y_dtype=y_dtype, x_shape=shapes[0], y_shape=shapes[1],
                container=container, workers=workers, sparse_bad=sparse_bad, weights=weights)


def make_weights(kind, n):
    return {None: None, "ok": np.linspace(0.5, 1.5, n), "ints": [1] * n, "scalar": 1.0, "count": np.ones(n + 1),
            "str": "w", "columns": np.ones((n, 3))}[kind]


def should_work(c):
    needs_y = not c["door"].startswith("predict")
    x_ok = c["x_dtype"] in NUMERIC and c["x_shape"] == "ok"
    if not needs_y:
        return x_ok
    # a Dataset is indexed by sample up to len(x): one target too many is never read
    y_shape_ok = c["y_shape"] == "ok" or (c["y_shape"] == "count" and c["door"] in ("fit-dataset", "fit-dataloader"))
    y_ok = c["y_dtype"] in NUMERIC and y_shape_ok and not c["sparse_bad"]
    return x_ok and y_ok and c["weights"] in (None, "ok", "ints")


class Batches(Sequence):
    def __init__(self, item):
        self.item = item

    def __len__(self):
        return 2

    def __getitem__(self, index):
        return self.item


def repeat(item):
    while True:
        yield item


def stack(rows):
    """A DataLoader's collate that leaves the checking to fitgen (torch's own refuses non-numeric arrays)."""
    return tuple(np.stack(column) for column in zip(*rows))


def call(model, c, x, y, sw):
    door, workers = c["door"], c["workers"]
    item = (x, y) if sw is None else (x, y, sw)
    if door == "fit":
        return model.fit(x, y, sample_weight=sw, batch_size=4, verbose=0)
    if door == "fit-validation":
        return model.fit(make_array(np.random.default_rng(0), "float32", (8, FEATURES)),
                         np.zeros((8, UNITS if c["loss"] == "mse" else 1), "float32"),
                         validation_data=(x, y), verbose=0)
    if door == "evaluate":
        return model.evaluate(x, y, sample_weight=sw, verbose=0)
    if door == "predict":
        return model.predict(x)
    if door == "train_on_batch":
        return model.train_on_batch(x, y, sample_weight=sw)
    if door == "test_on_batch":
        return model.test_on_batch(x, y, sample_weight=sw)
    if door == "predict_on_batch":
        return model.predict_on_batch(x)
    if door == "fit-generator":
        return model.fit(repeat(item), steps_per_epoch=2, verbose=0, **workers)
    if door == "fit-sequence":
        return model.fit(Batches(item), verbose=0, **workers)
    if door == "fit-dataset":
        return model.fit(Samples(x, y), batch_size=4, verbose=0, **workers)
    if door == "fit-dataloader":
        return model.fit(torch.utils.data.DataLoader(Samples(x, y), batch_size=4, collate_fn=stack), verbose=0)
    if door == "evaluate-generator":
        return model.evaluate(repeat((x, y)), steps=2, verbose=0, **workers)
    return model.predict(Batches((x,)), **workers)


@pytest.fixture(scope="module")
def models():
    built = {}
    for loss in LOSSES:
        model = Sequential([Dense(UNITS, input_shape=(FEATURES,), activation="softmax")])
        model.compile("adam", loss)
        built[loss] = model
    return built


@pytest.mark.parametrize("part", range(3))
def test_random_inputs_work_or_are_refused_naming_the_input(models, part):
    rng = random.Random(SEED + part)
    data_rng = np.random.default_rng(SEED + part)
    problems = []
    for index in range(CASES // 3):
        c = case(rng, index)
        n = 6
        x = make_array(data_rng, c["x_dtype"], x_shape(c["x_shape"], n))
        y = make_array(data_rng, c["y_dtype"], y_shape(c["y_shape"], n, c["loss"]))
        if c["sparse_bad"]:
            y = y + UNITS + 2
        if c["container"] == "dict":
            x = {models[c["loss"]].input_names[0]: x}
        else:
            x = contain(x, c["container"])
            y = contain(y, c["container"] if c["container"] != "list" or y.dtype.kind != "U" else "numpy")
        model = models[c["loss"]]
        weights, steps = model.get_weights(), int(model.optimizer.iterations)
        expected = should_work(c)
        try:
            call(model, c, x, y, make_weights(c["weights"], n))
        except (ValueError, TypeError) as error:
            message = str(error)
            if expected:
                problems.append(f"{c}: refused a valid input: {type(error).__name__}: {message[:200]}")
            elif FOREIGN.search(message) or not NAMES.search(message):
                problems.append(f"{c}: unclear message: {type(error).__name__}: {message[:300]}")
            elif int(model.optimizer.iterations) != steps and c["door"] != "fit-validation" or any(
                    not np.array_equal(a, b) for a, b in zip(weights, model.get_weights())) and \
                    c["door"] != "fit-validation":
                problems.append(f"{c}: weights changed by a rejected call")
        except Exception as error:  # noqa: BLE001 -- any other type is the failure this test looks for
            problems.append(f"{c}: {type(error).__name__}: {str(error)[:300]}")
        else:
            if not expected:
                problems.append(f"{c}: accepted an input that must be refused")
    assert not problems, f"{len(problems)} of {CASES // 3} cases:\n" + "\n".join(problems[:20])
