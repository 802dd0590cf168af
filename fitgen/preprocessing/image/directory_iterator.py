"""Batches decoded from image files: `BatchFromFilesMixin` and `DirectoryIterator` (one folder per class)."""
import os
import warnings

import numpy as np

from fitgen import backend
from fitgen.preprocessing.image import io as image_io
from fitgen.preprocessing.image.iterators import Iterator
from fitgen.preprocessing.image.iterators import _batch_rng
from fitgen.preprocessing.image.iterators import _check_subset

ON_ERROR = ("raise", "skip")


class BatchFromFilesMixin:
    """Decoding, augmentation and targets for iterators over image files (`filepaths`, `labels`)."""

    def set_processing_attrs(self, image_data_generator, target_size, color_mode, data_format, save_to_dir,
                             save_prefix, save_format, subset, interpolation, keep_aspect_ratio=False,
                             on_error="raise"):
        self.image_data_generator = image_data_generator
        self.target_size = image_io.check_target_size(target_size)
        self.keep_aspect_ratio = keep_aspect_ratio
        channels = image_io.check_color_mode(color_mode)
        image_io.check_interpolation(interpolation)
        if on_error not in ON_ERROR:
            raise ValueError(f"`on_error` must be one of {ON_ERROR}. Received: on_error={on_error!r}")
        if data_format not in ("channels_last", "channels_first"):
            raise ValueError("`data_format` must be 'channels_last' or 'channels_first'. "
                             f"Received: data_format={data_format!r}")
        self.color_mode = color_mode
        self.data_format = data_format
        if data_format == "channels_last":
            self.image_shape = self.target_size + (channels,)
        else:
            self.image_shape = (channels,) + self.target_size
        self.save_to_dir = save_to_dir
        self.save_prefix = save_prefix
        self.save_format = save_format
        self.interpolation = interpolation
        self.on_error = on_error
        _check_subset(subset)
        self.split = None
        if subset is not None:
            validation_split = image_data_generator._validation_split
            self.split = (0, validation_split) if subset == "validation" else (validation_split, 1)
        self.subset = subset

    def _decode_batch(self, index_array):
        batch_x = np.zeros((len(index_array),) + self.image_shape, dtype=self.dtype)
        filepaths = self.filepaths
        kept = []
        for i, j in enumerate(index_array):
            try:
                pixels = image_io.decode_image_file(filepaths[j], self.color_mode, self.target_size,
                                                    self.interpolation, self.keep_aspect_ratio)
            except (OSError, ValueError) as error:
                if self.on_error == "raise":
                    raise
                warnings.warn(f"Skipping an unreadable image (on_error='skip'): {error}", stacklevel=2)
                continue
            batch_x[i] = pixels if self.data_format == "channels_last" else pixels.transpose(2, 0, 1)
            kept.append(i)
        if len(kept) < len(index_array):
            if not kept:
                raise OSError(f"Every image of this batch failed to decode: {[filepaths[j] for j in index_array]}")
            batch_x, index_array = batch_x[kept], index_array[kept]
        return batch_x, index_array

    def _get_batches_of_transformed_samples(self, index_array):
        batch_x, index_array = self._decode_batch(np.asarray(index_array))
        if self.image_data_generator:
            batch_x = self.image_data_generator._augment_batch(batch_x, _batch_rng())
        if self.save_to_dir:
            self._save_batch(batch_x, index_array, 10 ** 7)
        if self.class_mode == "input":
            batch_y = batch_x.copy()
        elif self.class_mode in ("binary", "sparse"):
            batch_y = np.asarray(self.classes)[index_array].astype(self.dtype)
        elif self.class_mode == "categorical":
            batch_y = np.zeros((len(batch_x), len(self.class_indices)), dtype=self.dtype)
            for i, n_observation in enumerate(index_array):
                batch_y[i, self.classes[n_observation]] = 1.0  # a list of classes gives a multi-hot row
        elif self.class_mode == "multi_output":
            batch_y = [output[index_array] for output in self.labels]
        elif self.class_mode == "raw":
            batch_y = self.labels[index_array]
        else:
            return batch_x
        if self.sample_weight is None:
            return batch_x, batch_y
        return batch_x, batch_y, self.sample_weight[index_array]

    @property
    def filepaths(self):
        """Absolute (or `directory`-joined) paths of the image files, in sample order."""
        raise NotImplementedError(f"`filepaths` is not implemented in {type(self).__name__}.")

    @property
    def labels(self):
        raise NotImplementedError(f"`labels` is not implemented in {type(self).__name__}.")

    @property
    def sample_weight(self):
        raise NotImplementedError(f"`sample_weight` is not implemented in {type(self).__name__}.")


def _iter_valid_files(directory, white_list_formats, follow_links):
    """(root, file name) of every image file under `directory`, roots sorted, then names sorted."""
    for root, _, files in sorted(os.walk(directory, followlinks=follow_links), key=lambda entry: entry[0]):
        for fname in sorted(files):
            if fname.lower().endswith(".tiff"):
                warnings.warn('Using ".tiff" files with multiple bands will cause distortion. Please verify your '
                              "output.", stacklevel=2)
            if fname.lower().endswith(white_list_formats):
                yield root, fname


def _list_class_files(directory, white_list_formats, split, class_index, follow_links):
    """Class indices and `class/relative/path` names of one class folder's images (or its split part)."""
    dirname = os.path.basename(directory)
    valid_files = list(_iter_valid_files(directory, white_list_formats, follow_links))
    if split:
        start, stop = int(split[0] * len(valid_files)), int(split[1] * len(valid_files))
        valid_files = valid_files[start:stop]
    filenames = [os.path.join(dirname, os.path.relpath(os.path.join(root, fname), directory))
                 for root, fname in valid_files]
    return [class_index] * len(filenames), filenames


class DirectoryIterator(BatchFromFilesMixin, Iterator):
    """Iterator over the images of a directory with one subdirectory per class.

    See `ImageDataGenerator.flow_from_directory` for the arguments. Attributes: `class_indices` (class
    name -> index), `classes` (index of every sample), `filenames` (paths relative to `directory`),
    `filepaths`, `samples`, `num_classes`.
    """

    allowed_class_modes = {"categorical", "binary", "sparse", "input", None}

    def __init__(self, directory, image_data_generator, target_size=(256, 256), color_mode="rgb", classes=None,
                 class_mode="categorical", batch_size=32, shuffle=True, seed=None, data_format=None,
                 save_to_dir=None, save_prefix="", save_format="png", follow_links=False, subset=None,
                 interpolation="nearest", keep_aspect_ratio=False, dtype=None, on_error="raise"):
        self.set_processing_attrs(image_data_generator, target_size, color_mode,
                                  data_format or backend.image_data_format(), save_to_dir, save_prefix,
                                  save_format, subset, interpolation, keep_aspect_ratio, on_error)
        if class_mode not in self.allowed_class_modes:
            raise ValueError(f"Invalid class_mode: {class_mode!r}; expected one of: "
                             "'categorical', 'binary', 'sparse', 'input', None")
        directory = os.fspath(directory)
        if not os.path.isdir(directory):
            raise FileNotFoundError(f"flow_from_directory: `directory` {directory!r} is not a directory.")
        self.directory = directory
        self.class_mode = class_mode
        self.dtype = dtype or backend.floatx()
        if not classes:
            classes = [subdir for subdir in sorted(os.listdir(directory))
                       if os.path.isdir(os.path.join(directory, subdir))]
        else:
            missing = [c for c in classes if not os.path.isdir(os.path.join(directory, c))]
            if missing:
                raise ValueError(f"`classes` names subdirectories that do not exist in {directory!r}: {missing}")
        self.num_classes = len(classes)
        self.class_indices = dict(zip(classes, range(len(classes))))
        if class_mode == "binary" and self.num_classes != 2:
            raise ValueError(f'class_mode="binary" needs exactly 2 classes; found {self.num_classes} in '
                             f"{directory!r}: {list(classes)}")
        self.filenames = []
        labels = []
        for name in classes:
            class_labels, filenames = _list_class_files(os.path.join(directory, name), self.white_list_formats,
                                                        self.split, self.class_indices[name], follow_links)
            labels += class_labels
            self.filenames += filenames
        self.samples = len(self.filenames)
        self.classes = np.array(labels, dtype="int32")
        print(f"Found {self.samples} images belonging to {self.num_classes} classes.")
        if self.samples == 0:
            where = (f" for subset={subset!r} (validation_split={image_data_generator._validation_split})"
                     if subset else "")
            raise ValueError(f"flow_from_directory found no images{where} under {directory!r}: expected one "
                             f"subdirectory per class holding files with extensions {self.white_list_formats}; "
                             f"found class subdirectories {list(classes)}.")
        self._filepaths = [os.path.join(self.directory, fname) for fname in self.filenames]
        super().__init__(self.samples, batch_size, shuffle, seed)

    @property
    def filepaths(self):
        return self._filepaths

    @property
    def labels(self):
        return self.classes

    @property
    def sample_weight(self):
        return None
