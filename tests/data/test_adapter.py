"""One way in for every kind of data: `get_adapter` decides the kind once; every adapter keeps one contract;
batches take the dtype of the model input they feed."""
import json
import pathlib

import h5py
import numpy as np
import pytest
import torch

from fitgen import backend
from fitgen.data.adapter import data_kind, get_adapter
from fitgen.data.arrays import ArrayAdapter
from fitgen.data.data_adapter import DataAdapter
from fitgen.data.sequence import Sequence
from fitgen.data.stream import StreamAdapter
from fitgen.layers import Dense
from fitgen.models import Sequential
from helpers.pipeline_sources import Samples

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "keras2"
N, FEATURES = 40, 3


def _model(dtype=None):
    model = Sequential([Dense(2, input_shape=(FEATURES,), dtype=dtype)])
    model.compile("sgd", "mse")
    return model


def _arrays():
    x = np.arange(N * FEATURES, dtype="float64").reshape(N, FEATURES) / 100.0
    return x, x[:, :2] * 2


class _Seq(Sequence):
    def __init__(self, x, y, batch=8):
        self.x, self.y, self.batch = x, y, batch

    def __len__(self):
        return -(-len(self.x) // self.batch)

    def __getitem__(self, i):
        s = slice(i * self.batch, (i + 1) * self.batch)
        return self.x[s], self.y[s]


class _IterDataset(torch.utils.data.IterableDataset):
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __iter__(self):
        for i in range(0, len(self.x), 8):
            yield self.x[i:i + 8], self.y[i:i + 8]


def _generator(x, y):
    while True:
        for i in range(0, len(x), 8):
            yield x[i:i + 8], y[i:i + 8]


def _h5(tmp_path, x, y):
    path = tmp_path / "data.h5"
    with h5py.File(path, "w") as f:
        f["x"], f["y"] = x, y
    return h5py.File(path, "r")


KINDS = ["arrays", "memmap", "h5py", "sequence", "generator", "dataset", "iterable_dataset", "dataloader"]


def _make(kind, tmp_path):
    """(data kwargs for get_adapter, expected kind, steps) for one kind of data."""
    x, y = _arrays()
    if kind == "arrays":
        return dict(x=x, y=y, batch_size=8), "arrays", None
    if kind == "memmap":
        path = tmp_path / "x.npy"
        np.save(path, x)
        return dict(x=np.load(path, mmap_mode="r"), y=y, batch_size=8), "arrays", None
    if kind == "h5py":
        f = _h5(tmp_path, x, y)
        return dict(x=f["x"], y=f["y"], batch_size=8), "arrays", None
    if kind == "sequence":
        return dict(x=_Seq(x, y)), "sequence", None
    if kind == "generator":
        return dict(x=_generator(x, y), steps=5), "generator", 5
    if kind == "dataset":
        return dict(x=Samples(x, y), batch_size=8), "dataset", None
    if kind == "iterable_dataset":
        return dict(x=_IterDataset(x, y), steps=5), "generator", 5
    loader = torch.utils.data.DataLoader(Samples(x, y), batch_size=8)
    return dict(x=loader), "dataloader", None


@pytest.mark.parametrize("kind", KINDS)
def test_every_adapter_keeps_the_contract(kind, tmp_path):
    """The same checks for every kind: count, order, dtypes, device, epoch end, skip, close."""
    model = _model()
    data, expected_kind, _ = _make(kind, tmp_path)
    assert data_kind(data["x"]) == expected_kind
    adapter = get_adapter(model, shuffle=False, role="training", **data)
    try:
        assert isinstance(adapter, DataAdapter)
        assert adapter.num_batches() == 5
        batches = list(adapter.epoch_batches(0))
        assert len(batches) == 5
        x_all = torch.cat([b[0][0] for b in batches])
        y_all = torch.cat([b[1][0] for b in batches])
        x, y = _arrays()
        np.testing.assert_allclose(x_all.numpy(), x, rtol=1e-6)  # every sample once, in order
        np.testing.assert_allclose(y_all.numpy(), y, rtol=1e-6)
        for xs, ys, sws in batches:
            assert xs[0].dtype == ys[0].dtype == torch.float32  # the model's dtype, whatever the data's
            assert xs[0].device == model._device() and sws == [None]
        adapter.on_epoch_end()
        if adapter.indexed:
            resumed = list(adapter.epoch_batches(1, skip=3))
            assert len(resumed) == 2
            np.testing.assert_allclose(resumed[0][0][0].numpy(), x[24:32], rtol=1e-6)
        assert isinstance(adapter.epoch_stats(), dict)
    finally:
        adapter.close()
        adapter.close()  # idempotent


def test_unsupported_data_names_what_was_received_and_what_is_accepted():
    with pytest.raises(TypeError, match=r"Unrecognized data type for `x`: received str\. Expected .*Sequence"):
        get_adapter(_model(), "data.csv")
    with pytest.raises(TypeError, match="received object"):
        get_adapter(_model(), object())


def test_torch_dataset_takes_batch_size_and_shuffles_its_indices():
    x, y = _arrays()
    model = _model()
    adapter = get_adapter(model, Samples(x, y), batch_size=16, shuffle=True)
    try:
        assert adapter.num_batches() == 3
        first = torch.cat([b[0][0] for b in adapter.epoch_batches(0)]).numpy()
        second = torch.cat([b[0][0] for b in adapter.epoch_batches(1)]).numpy()
    finally:
        adapter.close()
    assert sorted(map(tuple, first)) == sorted(map(tuple, x.astype("float32")))
    assert not np.array_equal(first, x.astype("float32")) and not np.array_equal(first, second)
    history = model.fit(Samples(x, y), batch_size=64, epochs=2, shuffle=True, verbose=0)
    assert history.params["steps"] == 1 and len(history.history["loss"]) == 2


def test_streams_refuse_batch_size_with_the_reason():
    x, y = _arrays()
    with pytest.raises(ValueError, match="the data decides the batch size"):
        _model().fit(_Seq(x, y), batch_size=64, verbose=0)


@pytest.fixture
def float64_session():
    backend.set_floatx("float64")
    yield
    backend.set_floatx("float32")


def _float64_model():
    model = Sequential([Dense(4, activation="tanh", input_shape=(FEATURES,)), Dense(2)])
    model.compile("sgd", "mse")
    assert model.layers[0].kernel.dtype == torch.float64
    return model


def test_float64_model_trains_on_arrays_sequences_with_processes_and_hdf5(float64_session, tmp_path):
    x, y = _arrays()
    x32, y32 = x.astype("float32"), y.astype("float32")  # float32 data is cast up to the model's float64
    reference = _float64_model()
    weights = reference.get_weights()
    reference.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    for data in (dict(x=x32, y=y32, batch_size=8), dict(x=_Seq(x32, y32), workers=2, use_multiprocessing=True)):
        model = _float64_model()
        model.set_weights(weights)
        model.fit(epochs=2, shuffle=False, verbose=0, **data)
        for got, want in zip(model.get_weights(), reference.get_weights()):
            assert got.dtype == np.float64
            np.testing.assert_allclose(got, want, rtol=1e-6)
    with _h5(tmp_path, x, y) as f:
        model = _float64_model()
        model.set_weights(weights)
        model.fit(f["x"], f["y"], batch_size=8, epochs=2, shuffle=False, verbose=0, workers=2)
        prediction = model.predict(f["x"], batch_size=16)
    assert prediction.dtype == np.float64
    np.testing.assert_allclose(prediction, reference.predict(x), rtol=1e-10)


def test_float64_files_are_read_as_float32_batches_by_the_workers(tmp_path):
    x, y = _arrays()
    with _h5(tmp_path, x, y) as f:
        adapter = get_adapter(_model(), f["x"], f["y"], batch_size=8, workers=1)
        try:
            reads = [adapter._prefetcher._source.get_batch(spec) for spec in adapter.epoch_plan(0)]
        finally:
            adapter.close()
    assert all(group[0][0].dtype == np.float32 for group in reads)  # cast in the worker: half the bytes


@pytest.mark.parametrize("case", ["mlp", "cnn"])
def test_history_keys_equal_tf_keras_for_streamed_data(case):
    meta = json.loads((FIXTURES / f"{case}.meta.json").read_text())
    data = np.load(FIXTURES / f"{case}.npz")
    from fitgen.models import model_from_json
    model = model_from_json((FIXTURES / f"{case}.json").read_text())
    model.compile("sgd", "categorical_crossentropy" if case == "mlp" else "sparse_categorical_crossentropy",
                  metrics=meta["metrics_names"][1:])
    x, y = data["x_x"], data["y_y"] if "y_y" in data else data[[k for k in data if k.startswith("y_")][0]]
    history = model.fit(_Seq(x, y, batch=16), epochs=1, verbose=0)
    assert list(history.history) == meta["history_keys"]


def test_adapters_are_the_two_classes_and_streams_know_their_kind():
    x, y = _arrays()
    model = _model()
    assert type(get_adapter(model, x, y)) is ArrayAdapter
    adapter = get_adapter(model, _Seq(x, y))
    try:
        assert type(adapter) is StreamAdapter and adapter.indexed
    finally:
        adapter.close()
