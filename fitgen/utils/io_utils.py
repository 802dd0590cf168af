"""`HDF5Matrix`: Keras 2's array-like view of an HDF5 dataset, read slice by slice."""
import numpy as np


class HDF5Matrix:
    """Representation of an HDF5 dataset usable in place of a NumPy array (Keras 2's class).

    Nothing is loaded up front: indexing reads only the requested rows. Use it with `fit(...,
    shuffle='batch')` (contiguous reads) or `shuffle=True` (fitgen sorts each batch's indices before reading).

    Args:
        datapath: path of the HDF5 file.
        dataset: name of the dataset in the file.
        start: first row of the view.
        end: one past the last row (default: the end of the dataset).
        normalizer: function applied to every slice read (e.g. `lambda x: x / 255.`).

    Example:

    ```python
    x = HDF5Matrix('data.h5', 'images', normalizer=lambda a: a / 255.)
    model.fit(x, y, shuffle='batch')
    ```
    """

    refs = {}  # one open h5py.File per path, shared by every view of that file (as Keras 2)

    def __init__(self, datapath, dataset, start=0, end=None, normalizer=None):
        import h5py
        if datapath not in HDF5Matrix.refs or not HDF5Matrix.refs[datapath]:
            try:
                HDF5Matrix.refs[datapath] = h5py.File(datapath, "r")
            except OSError as error:
                raise OSError(f"HDF5Matrix could not open {datapath!r}: {error}") from error
        file = HDF5Matrix.refs[datapath]
        if dataset not in file:
            raise ValueError(f"HDF5Matrix: no dataset {dataset!r} in {datapath!r}. Datasets: {list(file.keys())}")
        self.data = file[dataset]
        self.start = int(start)
        self.end = self.data.shape[0] if end is None else int(end)
        if not 0 <= self.start <= self.end <= self.data.shape[0]:
            raise ValueError(f"HDF5Matrix: start={start}, end={end} are outside the dataset's "
                             f"{self.data.shape[0]} rows.")
        self.normalizer = normalizer
        if normalizer is not None:
            first = normalizer(self.data[0:1])
            self._base_shape, self._base_dtype = first.shape[1:], first.dtype
        else:
            self._base_shape, self._base_dtype = self.data.shape[1:], self.data.dtype

    def __len__(self):
        return self.end - self.start

    def __getitem__(self, key):
        if isinstance(key, slice):
            start, stop = key.start or 0, self.end - self.start if key.stop is None else key.stop
            if start < 0 or stop > len(self) or key.step not in (None, 1):
                raise IndexError(f"HDF5Matrix slice {key} is out of range for {len(self)} rows.")
            idx = slice(start + self.start, stop + self.start)
        elif isinstance(key, (int, np.integer)):
            if not 0 <= key < len(self):
                raise IndexError(f"HDF5Matrix index {key} is out of range for {len(self)} rows.")
            idx = int(key) + self.start
        elif isinstance(key, (list, np.ndarray)):
            key = np.asarray(key)
            if key.size and (key.min() < 0 or key.max() >= len(self)):
                raise IndexError(f"HDF5Matrix indices out of range for {len(self)} rows.")
            idx = (key + self.start).tolist()
        else:
            raise IndexError(f"HDF5Matrix cannot be indexed with {type(key).__name__}.")
        values = self.data[idx]
        return self.normalizer(values) if self.normalizer is not None else values

    @property
    def shape(self):
        return (self.end - self.start,) + tuple(self._base_shape)

    @property
    def dtype(self):
        return self._base_dtype

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        return int(np.prod(self.shape))


def __getattr__(name):
    # keras.utils.io_utils.ask_to_proceed_with_overwrite: the saving module owns it (loaded on first use).
    if name == "ask_to_proceed_with_overwrite":
        from fitgen.saving.hdf5_format import ask_to_proceed_with_overwrite
        return ask_to_proceed_with_overwrite
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
