"""Out-of-core training: fit reads h5py Datasets, HDF5Matrix views and memmaps batch by batch.

Every data set here lives in a file under tmp_path. A small array-like proxy records each `__getitem__` key,
so the tests can check how fit reads: one contiguous slice per batch with shuffle='batch', one sorted index
list per batch with shuffle=True. The memory test trains on a ~300 MB HDF5 file while sampling the process's
anonymous memory (RssAnon) after every batch, and asserts it does not grow with the data set's size.
"""
import numpy as np
import pytest

import fitgen
from fitgen.callbacks import Callback
from fitgen.layers import Dense
from fitgen.models import Sequential
from fitgen.utils import HDF5Matrix

h5py = pytest.importorskip("h5py")

FEATURES = 8


class RecordingArray:
    """Array-like stand-in for an out-of-core array: forwards reads and records every key asked for."""

    def __init__(self, array):
        self.array = array
        self.keys = []

    @property
    def shape(self):
        return self.array.shape

    @property
    def dtype(self):
        return self.array.dtype

    @property
    def ndim(self):
        return len(self.array.shape)

    def __len__(self):
        return len(self.array)

    def __getitem__(self, key):
        self.keys.append(key)
        return self.array[key]


def _model(features=FEATURES):
    model = Sequential([Dense(1, input_shape=(features,))])
    model.compile(optimizer="sgd", loss="mse")
    return model


def _data(n=50, seed=0):
    rng = np.random.RandomState(seed)
    x = rng.randn(n, FEATURES).astype("float32")
    y = (x @ rng.randn(FEATURES, 1)).astype("float32")
    return x, y


@pytest.fixture
def h5file(tmp_path):
    x, y = _data()
    path = str(tmp_path / "data.h5")
    with h5py.File(path, "w") as f:
        f["x"], f["y"] = x, y
    yield path, x, y
    for key in [k for k in HDF5Matrix.refs if k == path]:
        HDF5Matrix.refs.pop(key).close()


def _slices_per_epoch(keys, n, batch_size):
    """Splits recorded slice keys into epochs of ceil(n / batch_size) reads."""
    per_epoch = -(-n // batch_size)
    assert len(keys) % per_epoch == 0
    return [keys[i:i + per_epoch] for i in range(0, len(keys), per_epoch)]


def _check_batch_shuffle_reads(keys, n, batch_size, epochs):
    epochs_read = _slices_per_epoch(keys, n, batch_size)
    assert len(epochs_read) == epochs
    orders = []
    for reads in epochs_read:
        assert all(isinstance(k, slice) and k.step in (None, 1) for k in reads), reads
        starts = [k.start for k in reads]
        # Each batch is one whole chunk [k*bs, (k+1)*bs); the partial chunk is always last (Keras 2).
        assert all(k.start % batch_size == 0 and k.stop == min(k.start + batch_size, n) for k in reads)
        assert sorted(starts) == list(range(0, n, batch_size))
        assert reads[-1].stop == n
        orders.append(starts)
    return orders


def test_fit_on_h5py_dataset_with_batch_shuffle_reads_contiguous_slices(h5file):
    path, _, _ = h5file
    with h5py.File(path, "r") as f:
        rx, ry = RecordingArray(f["x"]), RecordingArray(f["y"])
        model = _model()
        history = model.fit(rx, ry, batch_size=8, epochs=4, shuffle="batch", verbose=0)
    assert len(history.history["loss"]) == 4
    orders = _check_batch_shuffle_reads(rx.keys, 50, 8, 4)
    assert rx.keys == ry.keys  # x and y are read with the same keys
    assert len({tuple(o) for o in orders}) > 1  # the chunk order changes between epochs


def test_fit_on_h5py_dataset_with_shuffle_true_reads_sorted_index_lists(h5file):
    path, _, _ = h5file
    with h5py.File(path, "r") as f:
        rx = RecordingArray(f["x"])
        model = _model()
        model.fit(rx, f["y"], batch_size=8, epochs=2, shuffle=True, verbose=0)
    epochs_read = _slices_per_epoch(rx.keys, 50, 8)
    for reads in epochs_read:
        seen = []
        for key in reads:
            idx = np.asarray(key) if not isinstance(key, slice) else np.arange(key.start, key.stop)
            assert idx.ndim == 1 and np.all(np.diff(idx) > 0), f"read with unsorted indices {key!r}"
            seen.extend(idx.tolist())
        assert sorted(seen) == list(range(50))  # every sample once per epoch
        assert seen != list(range(50))  # but not in file order
    assert any(not isinstance(k, slice) for k in rx.keys)


def test_training_on_h5py_matches_training_in_memory(h5file):
    path, x, y = h5file
    in_memory = _model()
    weights = in_memory.get_weights()
    fitgen.backend.set_random_seed(7)
    expected = in_memory.fit(x, y, batch_size=8, epochs=3, shuffle="batch", verbose=0).history["loss"]
    on_disk = _model()
    on_disk.set_weights(weights)
    fitgen.backend.set_random_seed(7)
    with h5py.File(path, "r") as f:
        got = on_disk.fit(f["x"], f["y"], batch_size=8, epochs=3, shuffle="batch", verbose=0).history["loss"]
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    np.testing.assert_allclose(on_disk.get_weights()[0], in_memory.get_weights()[0], rtol=1e-5, atol=1e-6)


def test_plain_hdf5_datasets_of_a_read_only_file_are_read_through_a_file_view(tmp_path):
    from fitgen.data.arrays import _file_view
    x, _ = _data()
    path = str(tmp_path / "kinds.h5")
    with h5py.File(path, "w") as f:
        f["plain"] = x
        f["f64"] = x.astype("float64")
        f.create_dataset("chunked", data=x, chunks=(10, FEATURES))
        f.create_dataset("compressed", data=x, compression="gzip")
    with h5py.File(path, "r") as f:
        for name in ("plain", "f64"):
            view = _file_view(f[name])
            assert isinstance(view, np.memmap) and view.dtype == f[name].dtype
            np.testing.assert_array_equal(view[3:17], f[name][3:17])
        # Chunked or compressed bytes are not laid out as an array in the file: h5py reads those.
        for name in ("chunked", "compressed"):
            dataset = f[name]
            assert _file_view(dataset) is dataset
    with h5py.File(path, "r+") as f:  # open for writing: its newest bytes may not be in the file yet
        dataset = f["plain"]
        assert _file_view(dataset) is dataset


@pytest.mark.parametrize("name", ["plain", "chunked"])
def test_hdf5_dataset_with_process_workers_trains_like_memory(tmp_path, name):
    # A plain dataset is read by process workers through its file view; a chunked one stays on h5py threads.
    x, y = _data(n=64)
    path = str(tmp_path / "train.h5")
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=x, chunks=(16, FEATURES) if name == "chunked" else None)
        f["y"] = y
    in_memory = _model()
    weights = in_memory.get_weights()
    fitgen.backend.set_random_seed(3)
    expected = in_memory.fit(x, y, batch_size=8, epochs=2, shuffle="batch", verbose=0).history["loss"]
    on_disk = _model()
    on_disk.set_weights(weights)
    fitgen.backend.set_random_seed(3)
    with h5py.File(path, "r") as f:
        got = on_disk.fit(f["x"], f["y"], batch_size=8, epochs=2, shuffle="batch", verbose=0, workers=2,
                          use_multiprocessing=True).history["loss"]
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    np.testing.assert_allclose(on_disk.get_weights()[0], in_memory.get_weights()[0], rtol=1e-5, atol=1e-6)


def test_fit_evaluate_predict_on_hdf5matrix_with_start_end_and_normalizer(h5file):
    path, x, y = h5file
    x_train = HDF5Matrix(path, "x", start=0, end=40, normalizer=lambda a: a * 2.0)
    y_train = HDF5Matrix(path, "y", start=0, end=40)
    x_test, y_test = HDF5Matrix(path, "x", start=40, normalizer=lambda a: a * 2.0), HDF5Matrix(path, "y", start=40)
    model = _model()
    history = model.fit(x_train, y_train, batch_size=16, epochs=2, shuffle="batch", verbose=0,
                        validation_data=(x_test, y_test))
    assert set(history.history) == {"loss", "val_loss"}
    np.testing.assert_allclose(model.predict(x_test, batch_size=4), model.predict(x[40:] * 2.0), rtol=1e-5)
    np.testing.assert_allclose(model.evaluate(x_test, y_test, verbose=0),
                               model.evaluate(x[40:] * 2.0, y[40:], verbose=0), rtol=1e-5)
    # shuffle=True works too: indices are sorted before HDF5Matrix reads them.
    model.fit(x_train, y_train, batch_size=16, epochs=1, shuffle=True, verbose=0)


def test_hdf5matrix_reads_through_a_recording_proxy_in_batch_chunks(h5file):
    path, _, y = h5file
    matrix = RecordingArray(HDF5Matrix(path, "x", start=5, end=45))
    model = _model()
    model.fit(matrix, y[5:45], batch_size=16, epochs=3, shuffle="batch", verbose=0)
    _check_batch_shuffle_reads(matrix.keys, 40, 16, 3)


def test_fit_on_memmap_with_both_shuffle_modes(tmp_path):
    x, y = _data(64)
    path = str(tmp_path / "x.dat")
    mm = np.memmap(path, dtype="float32", mode="w+", shape=x.shape)
    mm[:] = x
    mm.flush()
    del mm
    x_map = np.memmap(path, dtype="float32", mode="r", shape=x.shape)
    recorder = RecordingArray(x_map)
    model = _model()
    history = model.fit(recorder, y, batch_size=10, epochs=2, shuffle="batch", verbose=0)
    assert len(history.history["loss"]) == 2
    _check_batch_shuffle_reads(recorder.keys, 64, 10, 2)
    recorder.keys.clear()
    model.fit(recorder, y, batch_size=10, epochs=1, shuffle=True, verbose=0)
    assert all(isinstance(k, slice) or np.all(np.diff(np.asarray(k)) > 0) for k in recorder.keys)
    # The memmap itself (not the proxy) trains without being copied into memory as a whole.
    model.fit(x_map, y, batch_size=10, epochs=1, shuffle="batch", verbose=0)
    np.testing.assert_allclose(model.predict(x_map), model.predict(x), rtol=1e-6)


# ------------------------------------------------------------------------------------- HDF5Matrix semantics

def test_hdf5matrix_semantics_follow_keras_2_2_4(h5file):
    path, x, _ = h5file
    matrix = HDF5Matrix(path, "x", start=10, end=30)
    assert len(matrix) == 20 and matrix.shape == (20, FEATURES) and matrix.dtype == np.float32
    assert matrix.ndim == 2 and matrix.size == 20 * FEATURES
    np.testing.assert_array_equal(matrix[0], x[10])
    np.testing.assert_array_equal(matrix[19], x[29])
    np.testing.assert_array_equal(matrix[2:5], x[12:15])
    np.testing.assert_array_equal(matrix[:3], x[10:13])
    np.testing.assert_array_equal(matrix[15:], x[25:30])
    np.testing.assert_array_equal(matrix[[1, 4, 7]], x[[11, 14, 17]])
    np.testing.assert_array_equal(matrix[np.array([0, 2])], x[[10, 12]])
    for bad in (20, 25):
        with pytest.raises(IndexError):
            matrix[bad]
    with pytest.raises(IndexError):
        matrix[15:21]
    with pytest.raises(IndexError):
        matrix[[3, 20]]
    with pytest.raises(IndexError):
        matrix[np.array([0, 20])]


def test_hdf5matrix_shape_and_dtype_come_through_the_normalizer(h5file):
    path, x, _ = h5file
    matrix = HDF5Matrix(path, "x", normalizer=lambda a: a[:, :3].astype("float64") / 2)
    assert matrix.shape == (50, 3) and matrix.dtype == np.float64
    np.testing.assert_allclose(matrix[4:6], x[4:6, :3] / 2)
    np.testing.assert_allclose(matrix[[0, 1]], x[[0, 1], :3] / 2)
    full = HDF5Matrix(path, "x")
    assert len(full) == 50 and full.shape == (50, FEATURES)


def test_hdf5matrix_shares_one_open_file_per_path_and_names_bad_datasets(h5file):
    path, _, _ = h5file
    a, b = HDF5Matrix(path, "x"), HDF5Matrix(path, "y")
    assert a.data.file.id == b.data.file.id and path in HDF5Matrix.refs
    with pytest.raises(ValueError, match="nope"):
        HDF5Matrix(path, "nope")


# ------------------------------------------------------------------------- memory does not grow with size

def _rss_anon():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    pytest.skip("/proc/self/status has no RssAnon on this system")


class PeakRssAnon(Callback):
    def __init__(self):
        super().__init__()
        self.peak = 0
        self.batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self.peak = max(self.peak, _rss_anon())
        self.batches += 1


def _write_h5(path, rows, features, chunk_rows=4096):
    """Writes x (rows, features) float32 and y (rows, 1) in chunks, so writing needs little memory itself."""
    block = np.random.RandomState(0).rand(chunk_rows, features).astype("float32")
    with h5py.File(path, "w") as f:
        x = f.create_dataset("x", (rows, features), dtype="float32")
        y = f.create_dataset("y", (rows, 1), dtype="float32")
        for start in range(0, rows, chunk_rows):
            stop = min(start + chunk_rows, rows)
            x[start:stop] = block[:stop - start]
            y[start:stop] = block[:stop - start, :1]


def _peak_growth(path, features, batch_size):
    model = Sequential([Dense(1, input_shape=(features,))])
    model.compile(optimizer="sgd", loss="mse")
    probe = PeakRssAnon()
    with h5py.File(path, "r") as f:
        baseline = _rss_anon()
        model.fit(f["x"], f["y"], batch_size=batch_size, epochs=1, shuffle="batch", verbose=0, callbacks=[probe])
        rows = f["x"].shape[0]
    assert probe.batches == -(-rows // batch_size)
    return probe.peak - baseline


def test_training_on_a_file_larger_than_its_memory_limit(tmp_path):
    features, batch_size = 1024, 1024
    mb = 2 ** 20
    large_rows, small_rows = 75 * 1024, 25 * 1024  # 300 MB and 100 MB of float32 features
    large, small = str(tmp_path / "large.h5"), str(tmp_path / "small.h5")
    _write_h5(large, large_rows, features)
    _write_h5(small, small_rows, features)
    limit = 100 * mb  # a third of the large file: holding it in memory would break the limit three times over
    assert large_rows * features * 4 > 3 * limit - mb

    _peak_growth(small, features, batch_size)  # warm-up: the allocator's and torch's one-time costs
    small_growth = _peak_growth(small, features, batch_size)
    large_growth = _peak_growth(large, features, batch_size)
    assert large_growth < limit, f"anonymous memory grew by {large_growth / mb:.0f} MB on a 300 MB file"
    # Tripling the data set leaves the peak where it was (a few batches of slack, 4 MB each).
    assert abs(large_growth - small_growth) < 24 * mb, (small_growth / mb, large_growth / mb)
