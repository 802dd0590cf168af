"""`DataFrameIterator`: batches of images listed in a pandas DataFrame, with single-, multi-label and
multi-output targets (`ImageDataGenerator.flow_from_dataframe`).

The dataframe is read once at construction; the iterator keeps only file names, labels and weights, so it
pickles for process workers without pandas being imported there.
"""
import collections
import os
import warnings

import numpy as np

from fitgen import backend
from fitgen.preprocessing.image.directory_iterator import BatchFromFilesMixin
from fitgen.preprocessing.image.iterators import Iterator


def _check_dataframe(dataframe):
    try:
        import pandas as pd
    except ImportError as error:
        raise ImportError("flow_from_dataframe needs pandas: `pip install pandas`.") from error
    if not isinstance(dataframe, pd.DataFrame):
        raise TypeError(f"`dataframe` must be a pandas DataFrame. Received: {type(dataframe).__name__}")


def _is_valid_file(path, white_list_formats):
    return path.lower().endswith(white_list_formats) and os.path.isfile(path)


class DataFrameIterator(BatchFromFilesMixin, Iterator):
    """Iterator over the images named in a dataframe; see `ImageDataGenerator.flow_from_dataframe`.

    Attributes: `filenames`, `filepaths`, `samples`, `labels`; for the class modes "categorical",
    "binary" and "sparse" also `class_indices` and `classes` (a list of indices per sample, or of index
    lists for multi-label rows).
    """

    allowed_class_modes = {"binary", "categorical", "input", "multi_output", "raw", "sparse", None}

    def __init__(self, dataframe, directory=None, image_data_generator=None, x_col="filename", y_col="class",
                 weight_col=None, target_size=(256, 256), color_mode="rgb", classes=None, class_mode="categorical",
                 batch_size=32, shuffle=True, seed=None, data_format="channels_last", save_to_dir=None,
                 save_prefix="", save_format="png", subset=None, interpolation="nearest", keep_aspect_ratio=False,
                 dtype="float32", validate_filenames=True, on_error="raise"):
        _check_dataframe(dataframe)
        self.set_processing_attrs(image_data_generator, target_size, color_mode,
                                  data_format or backend.image_data_format(), save_to_dir, save_prefix,
                                  save_format, subset, interpolation, keep_aspect_ratio, on_error)
        df = dataframe.copy()
        self.directory = os.fspath(directory) if directory else ""
        self.class_mode = class_mode
        self.dtype = dtype or backend.floatx()
        self._check_params(df, x_col, y_col, weight_col, classes)
        if validate_filenames:
            df = self._filter_valid_filepaths(df, x_col)
        classifying = class_mode not in ("input", "multi_output", "raw", None)
        if classifying:
            df, classes = self._filter_classes(df, y_col, classes)
            self.class_indices = dict(zip(classes, range(len(classes))))
            self.num_classes = len(classes)
        if self.split:
            start, stop = int(self.split[0] * len(df)), int(self.split[1] * len(df))
            df = df.iloc[start:stop, :]
        if classifying:
            self.classes = self.get_classes(df, y_col)
        self.filenames = df[x_col].tolist()
        self._sample_weight = df[weight_col].values if weight_col else None
        if class_mode == "multi_output":
            self._targets = [np.array(df[col].tolist()) for col in y_col]
        if class_mode == "raw":
            self._targets = df[y_col].values
        self.samples = len(self.filenames)
        validated = "validated" if validate_filenames else "non-validated"
        belonging = f" belonging to {len(classes)} classes" if classifying else ""
        print(f"Found {self.samples} {validated} image filenames{belonging}.")
        if self.samples == 0:
            raise ValueError(f"flow_from_dataframe found no usable rows in column x_col={x_col!r}"
                             f"{' (after dropping missing files)' if validate_filenames else ''}"
                             f"{f' for subset={subset!r}' if subset else ''}; directory={directory!r}.")
        self._filepaths = [os.path.join(self.directory, fname) for fname in self.filenames]
        super().__init__(self.samples, batch_size, shuffle, seed)

    def _check_params(self, df, x_col, y_col, weight_col, classes):
        if self.class_mode not in self.allowed_class_modes:
            raise ValueError(f"Invalid class_mode: {self.class_mode!r}; expected one of: 'binary', 'categorical', "
                             "'input', 'multi_output', 'raw', 'sparse', None")
        if self.class_mode == "multi_output" and not isinstance(y_col, list):
            raise TypeError(f'If class_mode="multi_output", y_col must be a list. Received {type(y_col).__name__}.')
        needed = [x_col] + ([weight_col] if weight_col else [])
        if self.class_mode not in ("input", None):
            needed += y_col if isinstance(y_col, list) else [y_col]
        missing = [col for col in needed if col not in df.columns]
        if missing:
            raise ValueError(f"Columns {missing} are not in the dataframe (x_col={x_col!r}, y_col={y_col!r}, "
                             f"weight_col={weight_col!r}); its columns are {list(df.columns)}.")
        if not all(df[x_col].apply(lambda x: isinstance(x, str))):
            raise TypeError(f"All values in column x_col={x_col} must be strings.")
        if self.class_mode in ("binary", "sparse") and not all(df[y_col].apply(lambda x: isinstance(x, str))):
            raise TypeError(f'If class_mode="{self.class_mode}", y_col="{y_col}" column values must be strings.')
        if self.class_mode == "binary":
            count = len(set(classes)) if classes else df[y_col].nunique()
            if count != 2:
                raise ValueError(f'If class_mode="binary" there must be 2 classes. Found {count} classes.')
        if self.class_mode == "categorical" and not all(df[y_col].apply(lambda x: isinstance(x, (str, list, tuple)))):
            raise TypeError(f'If class_mode="categorical", y_col="{y_col}" column values must be type string, '
                            "list or tuple.")
        if self.class_mode == "multi_output":
            for col in y_col:
                if any(isinstance(v, str) for v in df[col]):
                    raise TypeError(f'class_mode="multi_output" yields column {col!r} as a target array, but it '
                                    "holds strings: encode them first (class indices or one-hot lists).")
        if classes and self.class_mode in ("input", "multi_output", "raw", None):
            warnings.warn(f'`classes` will be ignored given the class_mode="{self.class_mode}"', stacklevel=3)
        if weight_col and not issubclass(df[weight_col].dtype.type, np.number):
            raise TypeError(f"Column weight_col={weight_col} must be numeric.")

    def get_classes(self, df, y_col):
        labels = [[self.class_indices[tag] for tag in label] if isinstance(label, (list, tuple))
                  else self.class_indices[label] for label in df[y_col]]
        if all(isinstance(label, int) for label in labels):
            return np.array(labels, dtype="int32")
        return labels

    @staticmethod
    def _filter_classes(df, y_col, classes):
        df = df.copy()

        def remove_classes(labels, classes):
            if isinstance(labels, (list, tuple)):
                return [cls for cls in labels if cls in classes] or None
            if isinstance(labels, str):
                return labels if labels in classes else None
            raise TypeError(f"Expect string, list or tuple but found {type(labels)} in {y_col} column ")

        if classes:
            classes = list(collections.OrderedDict.fromkeys(classes).keys())
            df[y_col] = df[y_col].apply(lambda x: remove_classes(x, classes))
        else:
            found = set()
            for value in df[y_col]:
                found.update(value if isinstance(value, (list, tuple)) else [value])
            classes = sorted(found)
        return df.dropna(subset=[y_col]), classes

    def _filter_valid_filepaths(self, df, x_col):
        filepaths = df[x_col].map(lambda fname: os.path.join(self.directory, fname))
        mask = filepaths.apply(_is_valid_file, args=(self.white_list_formats,))
        n_invalid = int((~mask).sum())
        if n_invalid:
            warnings.warn(f'Found {n_invalid} invalid image filename(s) in x_col="{x_col}". These filename(s) will '
                          "be ignored.", stacklevel=3)
        return df[mask]

    @property
    def filepaths(self):
        return self._filepaths

    @property
    def labels(self):
        if self.class_mode in ("multi_output", "raw"):
            return self._targets
        return self.classes

    @property
    def sample_weight(self):
        return self._sample_weight
