"""`ImageDataGenerator`: Keras 2's real-time image augmentation, batched and seedable per batch.

Keras transforms one image at a time; fitgen draws every sample's parameters in Keras's order (so a seed
gives Keras's parameters), then applies each step to the whole batch at once (transforms.py, _resample.py).
The draws come from a `numpy.random.RandomState` the iterator hands in, or from the global `np.random`
when no seed was given, as in Keras.
"""
import numbers
import warnings

import numpy as np

from fitgen import backend
from fitgen.preprocessing.image import transforms
from fitgen.preprocessing.image.dataframe_iterator import DataFrameIterator
from fitgen.preprocessing.image.directory_iterator import DirectoryIterator
from fitgen.preprocessing.image.iterators import NumpyArrayIterator

_NOT_FIT = ("This ImageDataGenerator specifies `{0}`, but it hasn't been fit on any training data. "
            "Fit it first by calling `.fit(numpy_data)`.")


def _is_set(value):
    # Keras tests the shift ranges for truth; an array-like range counts when it is non-empty.
    return len(value) > 0 if isinstance(value, (list, tuple, np.ndarray)) else bool(value)


def _draw_shift(rng, shift_range, size):
    try:  # an int or a list: a random element with a random sign, as Keras draws it
        shift = rng.choice(shift_range)
        shift *= rng.choice([-1, 1])
    except ValueError:  # a float: uniform in [-range, range)
        shift = rng.uniform(-shift_range, shift_range)
    if np.max(shift_range) < 1:
        shift *= size
    return shift


_NUMBERS = ("zca_epsilon", "rotation_range", "shear_range", "channel_shift_range", "cval", "validation_split")


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _check_arguments(arguments):
    """TypeError for augmentation settings of the wrong type, naming the argument (Keras 2 failed on them
    later, inside a worker, or not at all)."""
    for name in _NUMBERS:
        if not _is_number(arguments[name]):
            raise TypeError(f"`{name}` must be a number. Received: {name}={arguments[name]!r} of type "
                            f"{type(arguments[name]).__name__}")
    for name in ("width_shift_range", "height_shift_range"):
        value = arguments[name]
        values = list(value) if isinstance(value, (list, tuple, np.ndarray)) else [value]
        if not all(_is_number(v) for v in values):
            raise TypeError(f"`{name}` must be a float (a fraction of the size if < 1, else pixels), an int or a "
                            f"list of numbers. Received: {name}={value!r}")
    if arguments["rescale"] is not None and not _is_number(arguments["rescale"]):
        raise TypeError(f"`rescale` must be None or a number. Received: rescale={arguments['rescale']!r}")
    brightness = arguments["brightness_range"]
    if isinstance(brightness, (tuple, list)) and not all(_is_number(v) for v in brightness):
        raise TypeError(f"`brightness_range` should be a tuple or list of two floats. Received: {brightness!r}")
    function = arguments["preprocessing_function"]
    if function is not None and not callable(function):
        raise TypeError("`preprocessing_function` must be a function taking one image (a rank-3 array) and "
                        f"returning it. Received: {function!r} of type {type(function).__name__}")


def _preprocessed(function, image):
    """`function(image)`, which must return an image of the same shape (None would silently become NaN)."""
    result = function(image)
    if result is None or np.shape(result) != np.shape(image):
        got = "None" if result is None else f"{type(result).__name__} of shape {np.shape(result)}"
        raise ValueError(f"`preprocessing_function` {getattr(function, '__name__', function)!r} must return the "
                         f"image it was given, of shape {np.shape(image)}, but returned {got}. Return the "
                         "modified array (a function that changes the image in place must still return it).")
    return result


class ImageDataGenerator:
    """Generates batches of image data with real-time data augmentation (Keras 2 API).

    Args:
        featurewise_center: set the input mean to 0 over the dataset, per channel (needs `fit`).
        samplewise_center: set each sample's mean to 0.
        featurewise_std_normalization: divide inputs by the dataset's std, per channel (needs `fit`).
        samplewise_std_normalization: divide each input by its own std.
        zca_whitening: apply ZCA whitening (needs `fit`).
        zca_epsilon: epsilon for ZCA whitening, default 1e-6.
        rotation_range: degree range for random rotations.
        width_shift_range: float (fraction of the width if < 1, pixels if >= 1), int (pixels drawn from
            `range(-n + 1, n)`) or a list of values to pick from.
        height_shift_range: as `width_shift_range`, for the height.
        brightness_range: pair of floats to draw a brightness factor from.
        shear_range: shear angle range in degrees.
        zoom_range: float `z` for [1 - z, 1 + z], or a pair [lower, upper].
        channel_shift_range: range for random channel shifts.
        fill_mode: 'constant', 'nearest' (default), 'reflect' or 'wrap': how points outside the input are
            filled (SciPy's definitions, as Keras uses them).
        cval: value for points outside the boundaries when `fill_mode='constant'`.
        horizontal_flip: randomly flip inputs horizontally.
        vertical_flip: randomly flip inputs vertically.
        rescale: factor multiplied into the data after all other transformations (None or 0: none).
        preprocessing_function: called on each image (a rank-3 array) after augmentation; returns an
            array of the same shape.
        data_format: 'channels_last' (default) or 'channels_first'.
        validation_split: fraction of images reserved for validation (strictly between 0 and 1).
        interpolation_order: 1 (bilinear, default) or 0 (nearest) for the geometric transforms.
        dtype: dtype of the generated arrays, floatx() by default.

    Example:

    ```python
    datagen = ImageDataGenerator(rotation_range=20, width_shift_range=0.2, horizontal_flip=True,
                                 rescale=1. / 255)
    train = datagen.flow_from_directory('data/train', target_size=(64, 64), batch_size=32)
    model.fit_generator(train, epochs=10, workers=2, use_multiprocessing=True)
    ```
    """

    def __init__(self, featurewise_center=False, samplewise_center=False, featurewise_std_normalization=False,
                 samplewise_std_normalization=False, zca_whitening=False, zca_epsilon=1e-6, rotation_range=0,
                 width_shift_range=0.0, height_shift_range=0.0, brightness_range=None, shear_range=0.0,
                 zoom_range=0.0, channel_shift_range=0.0, fill_mode="nearest", cval=0.0, horizontal_flip=False,
                 vertical_flip=False, rescale=None, preprocessing_function=None, data_format=None,
                 validation_split=0.0, interpolation_order=1, dtype=None):
        self.featurewise_center = featurewise_center
        self.samplewise_center = samplewise_center
        self.featurewise_std_normalization = featurewise_std_normalization
        self.samplewise_std_normalization = samplewise_std_normalization
        self.zca_whitening = zca_whitening
        self.zca_epsilon = zca_epsilon
        self.rotation_range = rotation_range
        self.width_shift_range = width_shift_range
        self.height_shift_range = height_shift_range
        self.shear_range = shear_range
        self.channel_shift_range = channel_shift_range
        self.fill_mode = fill_mode
        self.cval = cval
        self.horizontal_flip = horizontal_flip
        self.vertical_flip = vertical_flip
        self.rescale = rescale
        self.preprocessing_function = preprocessing_function
        _check_arguments(locals())
        self.dtype = dtype or backend.floatx()
        self.interpolation_order = interpolation_order
        transforms.check_fill_mode(fill_mode)
        transforms.check_interpolation_order(interpolation_order)
        data_format = data_format or backend.image_data_format()
        if data_format not in ("channels_last", "channels_first"):
            raise ValueError('`data_format` should be "channels_last" (channel after row and column) or '
                             f'"channels_first" (channel before row and column). Received: {data_format!r}')
        self.data_format = data_format
        self.channel_axis, self.row_axis, self.col_axis = (3, 1, 2) if data_format == "channels_last" else (1, 2, 3)
        if validation_split and not 0 < validation_split < 1:
            raise ValueError(f"`validation_split` must be strictly between 0 and 1. Received: {validation_split!r}")
        self._validation_split = validation_split
        self.mean = None
        self.std = None
        self.zca_whitening_matrix = None
        if isinstance(zoom_range, (float, int)):
            self.zoom_range = [1 - zoom_range, 1 + zoom_range]
        elif (isinstance(zoom_range, (list, tuple)) and len(zoom_range) == 2
              and all(isinstance(v, (float, int)) for v in zoom_range)):
            self.zoom_range = [zoom_range[0], zoom_range[1]]
        else:
            raise ValueError(f"`zoom_range` should be a float or a tuple or list of two floats. "
                             f"Received: {zoom_range!r}")
        if zca_whitening:
            if not featurewise_center:
                self.featurewise_center = True
                warnings.warn("This ImageDataGenerator specifies `zca_whitening`, which overrides setting of "
                              "`featurewise_center`.", stacklevel=2)
            if featurewise_std_normalization:
                self.featurewise_std_normalization = False
                warnings.warn("This ImageDataGenerator specifies `zca_whitening` which overrides setting of "
                              "`featurewise_std_normalization`.", stacklevel=2)
        if featurewise_std_normalization and not featurewise_center:
            self.featurewise_center = True
            warnings.warn("This ImageDataGenerator specifies `featurewise_std_normalization`, which overrides "
                          "setting of `featurewise_center`.", stacklevel=2)
        if samplewise_std_normalization and not samplewise_center:
            self.samplewise_center = True
            warnings.warn("This ImageDataGenerator specifies `samplewise_std_normalization`, which overrides "
                          "setting of `samplewise_center`.", stacklevel=2)
        if brightness_range is not None and (not isinstance(brightness_range, (tuple, list))
                                             or len(brightness_range) != 2):
            raise ValueError(f"`brightness_range` should be a tuple or list of two floats. "
                             f"Received: {brightness_range!r}")
        self.brightness_range = brightness_range

    @property
    def principal_components(self):
        """keras_preprocessing's name for the ZCA whitening matrix."""
        return self.zca_whitening_matrix

    # ------------------------------------------------------------------ iterators

    def flow(self, x, y=None, batch_size=32, shuffle=True, sample_weight=None, seed=None, save_to_dir=None,
             save_prefix="", save_format="png", ignore_class_split=False, subset=None):
        """Takes data and label arrays and generates batches of augmented data.

        Args:
            x: rank-4 array of images, or a tuple `(images, misc)` whose `misc` (an array or a list of
                arrays) is passed through beside the images, unchanged.
            y: labels, or None to yield images only.
            batch_size: samples per batch.
            shuffle: reshuffle the order every epoch.
            sample_weight: per-sample weights, yielded as the third element.
            seed: makes the order and the augmentation reproducible (see `Iterator`).
            save_to_dir: directory to save the augmented pictures in (for debugging).
            save_prefix: file name prefix for saved pictures.
            save_format: "png" (default), "jpeg", ...
            ignore_class_split: skip the check that both subsets contain the same classes.
            subset: "training" or "validation" when `validation_split` is set.

        Returns:
            A `NumpyArrayIterator` (a `Sequence`) yielding `(x, y)`, `(x, y, sample_weight)` or `x`.
        """
        return NumpyArrayIterator(x, y, self, batch_size=batch_size, shuffle=shuffle, sample_weight=sample_weight,
                                  seed=seed, data_format=self.data_format, save_to_dir=save_to_dir,
                                  save_prefix=save_prefix, save_format=save_format,
                                  ignore_class_split=ignore_class_split, subset=subset, dtype=self.dtype)

    def flow_from_directory(self, directory, target_size=(256, 256), color_mode="rgb", classes=None,
                            class_mode="categorical", batch_size=32, shuffle=True, seed=None, save_to_dir=None,
                            save_prefix="", save_format="png", follow_links=False, subset=None,
                            interpolation="nearest", keep_aspect_ratio=False, on_error="raise"):
        """Takes the path to a directory with one subdirectory per class and generates batches.

        Args:
            directory: path to the directory; every subdirectory is a class (alphanumeric order gives
                the class indices) and the PNG, JPG, BMP, PPM and TIF files in its tree are its images.
            target_size: `(height, width)` every image is resized to.
            color_mode: "grayscale", "rgb" (default) or "rgba": 1, 3 or 4 channels.
            classes: optional list of subdirectory names to use, in class-index order.
            class_mode: "categorical" (one-hot), "binary" (0/1 floats, two classes), "sparse" (integer
                labels), "input" (the images themselves, for autoencoders) or None (images only).
            batch_size: samples per batch.
            shuffle: reshuffle every epoch (False keeps the sorted file order).
            seed: makes the order and the augmentation reproducible.
            save_to_dir: directory to save the augmented pictures in (for debugging).
            save_prefix: file name prefix for saved pictures.
            save_format: "png" (default), "jpeg", ...
            follow_links: follow symbolic links inside the class subdirectories.
            subset: "training" or "validation" when `validation_split` is set.
            interpolation: resampling for resizing: "nearest" (default), "bilinear", "bicubic",
                "hamming", "box" or "lanczos".
            keep_aspect_ratio: centre-crop to the target aspect ratio before resizing.
            on_error: "raise" (default) raises on an unreadable image, naming the file; "skip" warns and
                leaves that sample out of its batch (a fitgen extension).

        Returns:
            A `DirectoryIterator` (a `Sequence`) yielding `(x, y)` batches (`x` alone for class_mode None).
        """
        return DirectoryIterator(directory, self, target_size=target_size, color_mode=color_mode, classes=classes,
                                 class_mode=class_mode, batch_size=batch_size, shuffle=shuffle, seed=seed,
                                 data_format=self.data_format, save_to_dir=save_to_dir, save_prefix=save_prefix,
                                 save_format=save_format, follow_links=follow_links, subset=subset,
                                 interpolation=interpolation, keep_aspect_ratio=keep_aspect_ratio, dtype=self.dtype,
                                 on_error=on_error)

    def flow_from_dataframe(self, dataframe, directory=None, x_col="filename", y_col="class", weight_col=None,
                            target_size=(256, 256), color_mode="rgb", classes=None, class_mode="categorical",
                            batch_size=32, shuffle=True, seed=None, save_to_dir=None, save_prefix="",
                            save_format="png", subset=None, interpolation="nearest", validate_filenames=True,
                            keep_aspect_ratio=False, on_error="raise", **kwargs):
        """Takes a pandas dataframe of file paths (and labels) and generates batches.

        Args:
            dataframe: pandas DataFrame with the file paths (relative to `directory`, or absolute when
                `directory` is None) in column `x_col`, plus label columns as `class_mode` needs.
            directory: folder the paths are relative to, or None.
            x_col: column with the file paths.
            y_col: label column (or list of columns for "raw" and "multi_output"). With "categorical",
                a cell may hold a list of tags: the targets are then multi-hot (multi-label).
            weight_col: optional column of sample weights.
            target_size: `(height, width)` every image is resized to.
            color_mode: "grayscale", "rgb" or "rgba".
            classes: optional list of classes to keep (rows with other labels are dropped).
            class_mode: "categorical", "binary", "sparse", "input", "multi_output" (one target array per
                column of `y_col`, for a model with several outputs), "raw" (the column values) or None.
            batch_size: samples per batch.
            shuffle: reshuffle every epoch.
            seed: makes the order and the augmentation reproducible.
            save_to_dir: directory to save the augmented pictures in (for debugging).
            save_prefix: file name prefix for saved pictures.
            save_format: "png" (default), "jpeg", ...
            subset: "training" or "validation" when `validation_split` is set.
            interpolation: resampling for resizing (see `flow_from_directory`).
            validate_filenames: drop (with a warning) rows whose file is missing or not an image.
            keep_aspect_ratio: centre-crop to the target aspect ratio before resizing.
            on_error: "raise" or "skip" for files that cannot be decoded (see `flow_from_directory`).
            **kwargs: Keras's deprecated `has_ext`, `sort` and `drop_duplicates` (ignored with a warning).

        Returns:
            A `DataFrameIterator` (a `Sequence`).
        """
        for legacy in ("has_ext", "sort", "drop_duplicates"):
            if legacy in kwargs:
                warnings.warn(f"`{legacy}` is deprecated and ignored: batches follow the dataframe's rows "
                              "and filenames must match the files on disk.", DeprecationWarning, stacklevel=2)
        unknown = set(kwargs) - {"has_ext", "sort", "drop_duplicates"}
        if unknown:
            raise TypeError(f"flow_from_dataframe() got unexpected keyword arguments: {sorted(unknown)}")
        if class_mode == "other":
            warnings.warn('`class_mode` "other" is deprecated, please use `class_mode` "raw".',
                          DeprecationWarning, stacklevel=2)
            class_mode = "raw"
        return DataFrameIterator(dataframe, directory, self, x_col=x_col, y_col=y_col, weight_col=weight_col,
                                 target_size=target_size, color_mode=color_mode, classes=classes,
                                 class_mode=class_mode, data_format=self.data_format, batch_size=batch_size,
                                 shuffle=shuffle, seed=seed, save_to_dir=save_to_dir, save_prefix=save_prefix,
                                 save_format=save_format, subset=subset, interpolation=interpolation,
                                 validate_filenames=validate_filenames, keep_aspect_ratio=keep_aspect_ratio,
                                 dtype=self.dtype, on_error=on_error)

    # ------------------------------------------------------------------ per-image API (Keras's)

    def standardize(self, x):
        """Applies the normalization configuration in place to `x` (one image, or a batch as one block).

        Like Keras, the sample-wise statistics are taken over all of `x`; the iterators standardize each
        sample on its own.
        """
        if self.preprocessing_function:
            x = _preprocessed(self.preprocessing_function, x)
        if self.rescale:
            x *= self.rescale
        if self.samplewise_center:
            x -= np.mean(x, keepdims=True)
        if self.samplewise_std_normalization:
            x /= np.std(x, keepdims=True) + 1e-6
        return self._featurewise(x)

    def _featurewise(self, x):
        if self.featurewise_center:
            if self.mean is None:
                warnings.warn(_NOT_FIT.format("featurewise_center"), stacklevel=3)
            else:
                x -= self.mean
        if self.featurewise_std_normalization:
            if self.std is None:
                warnings.warn(_NOT_FIT.format("featurewise_std_normalization"), stacklevel=3)
            else:
                x /= self.std + 1e-6
        if self.zca_whitening:
            if self.zca_whitening_matrix is None:
                warnings.warn(_NOT_FIT.format("zca_whitening"), stacklevel=3)
            else:
                flat = x.reshape(-1, int(np.prod(x.shape[-3:])))
                x = (flat @ self.zca_whitening_matrix).reshape(x.shape)
        return x

    def get_random_transform(self, img_shape, seed=None):
        """Draws random transformation parameters for one image of shape `img_shape`.

        The draws follow Keras's order, so a given `seed` gives Keras's parameters. Unlike Keras, a seed
        seeds a private generator and leaves the global `np.random` state alone.

        Returns:
            A dict with keys 'theta', 'tx', 'ty', 'shear', 'zx', 'zy', 'flip_horizontal', 'flip_vertical',
            'channel_shift_intensity' and 'brightness'.
        """
        rng = np.random if seed is None else np.random.RandomState(seed)
        return self._draw_transform(img_shape, rng)

    def _draw_transform(self, img_shape, rng):
        img_row_axis, img_col_axis = self.row_axis - 1, self.col_axis - 1
        theta = rng.uniform(-self.rotation_range, self.rotation_range) if self.rotation_range else 0
        tx = _draw_shift(rng, self.height_shift_range, img_shape[img_row_axis]) if _is_set(
            self.height_shift_range) else 0
        ty = _draw_shift(rng, self.width_shift_range, img_shape[img_col_axis]) if _is_set(
            self.width_shift_range) else 0
        shear = rng.uniform(-self.shear_range, self.shear_range) if self.shear_range else 0
        if self.zoom_range[0] == 1 and self.zoom_range[1] == 1:
            zx, zy = 1, 1
        else:
            zx, zy = rng.uniform(self.zoom_range[0], self.zoom_range[1], 2)
        flip_horizontal = (rng.random() < 0.5) * self.horizontal_flip
        flip_vertical = (rng.random() < 0.5) * self.vertical_flip
        channel_shift_intensity = None
        if self.channel_shift_range != 0:
            channel_shift_intensity = rng.uniform(-self.channel_shift_range, self.channel_shift_range)
        brightness = None
        if self.brightness_range is not None:
            brightness = rng.uniform(self.brightness_range[0], self.brightness_range[1])
        return {"theta": theta, "tx": tx, "ty": ty, "shear": shear, "zx": zx, "zy": zy,
                "flip_horizontal": flip_horizontal, "flip_vertical": flip_vertical,
                "channel_shift_intensity": channel_shift_intensity, "brightness": brightness}

    def apply_transform(self, x, transform_parameters):
        """Applies the transformation described by `transform_parameters` to one image `x` (rank 3).

        Recognised keys: 'theta' (degrees), 'tx' (shift along rows, pixels), 'ty' (along columns),
        'shear' (degrees), 'zx' / 'zy' (row / column zoom), 'flip_horizontal', 'flip_vertical',
        'channel_shift_intensity', 'brightness'.
        """
        x = np.asarray(x)
        if x.ndim != 3:
            raise ValueError(f"apply_transform expects one image of rank 3. Received shape {x.shape}.")
        batch = x[None].astype(x.dtype if x.dtype.kind == "f" else self.dtype)
        return self._apply_transforms(batch, [transform_parameters])[0]

    def random_transform(self, x, seed=None):
        """Applies a random transformation to one image (rank 3)."""
        return self.apply_transform(x, self.get_random_transform(np.shape(x), seed))

    # ------------------------------------------------------------------ batched internals

    def _augment_batch(self, batch, rng):
        """Keras's per-sample get_random_transform -> apply_transform -> standardize, for a whole batch."""
        params = [self._draw_transform(batch.shape[1:], rng) for _ in range(len(batch))]
        return self._standardize_batch(self._apply_transforms(batch, params))

    def _apply_transforms(self, batch, params):
        # One private channels-last copy, then every step in place on the samples it concerns.
        images = np.array(batch if self.data_format == "channels_last" else np.moveaxis(batch, 1, 3))
        height, width = images.shape[1:3]
        geometry = np.array([[p.get("theta", 0), p.get("tx", 0), p.get("ty", 0), p.get("shear", 0), p.get("zx", 1),
                              p.get("zy", 1)] for p in params], dtype=np.float64).reshape(-1, 6)
        # Keras resamples an image only when some parameter differs from the identity.
        warped = np.flatnonzero(np.any(geometry != [0, 0, 0, 0, 1, 1], axis=1))
        if len(warped):
            matrices = transforms.affine_transform_matrices(*geometry[warped].T, height, width)
            chosen = images if len(warped) == len(images) else images[warped]
            images[warped] = transforms.affine_resample(chosen, matrices, self.fill_mode, self.cval,
                                                        self.interpolation_order)
        shifted = [i for i, p in enumerate(params) if p.get("channel_shift_intensity") is not None]
        if shifted:
            chosen = images[shifted]
            amounts = np.array([params[i]["channel_shift_intensity"] for i in shifted]).reshape(-1, 1, 1, 1)
            images[shifted] = np.clip(chosen + amounts, chosen.min(axis=(1, 2, 3), keepdims=True),
                                      chosen.max(axis=(1, 2, 3), keepdims=True))
        for key, axis in (("flip_horizontal", 2), ("flip_vertical", 1)):
            flipped = [i for i, p in enumerate(params) if p.get(key, False)]
            if flipped:
                images[flipped] = np.flip(images[flipped], axis)
        for i, p in enumerate(params):
            if p.get("brightness") is not None:
                images[i] = transforms.apply_brightness_shift(images[i], p["brightness"], scale=False)
        if self.data_format == "channels_first":
            return np.ascontiguousarray(np.moveaxis(images, 3, 1))
        return images

    def _standardize_batch(self, batch):
        """`standardize` applied to each sample on its own, vectorised."""
        batch = np.array(batch, dtype=self.dtype, copy=None)
        if self.preprocessing_function:
            for i in range(len(batch)):
                batch[i] = _preprocessed(self.preprocessing_function, batch[i])
        if self.rescale:
            batch *= self.rescale
        if self.samplewise_center:
            batch -= np.mean(batch, axis=(1, 2, 3), keepdims=True)
        if self.samplewise_std_normalization:
            batch /= np.std(batch, axis=(1, 2, 3), keepdims=True) + 1e-6
        return self._featurewise(batch)

    # ------------------------------------------------------------------ statistics

    def fit(self, x, augment=False, rounds=1, seed=None):
        """Computes the feature-wise statistics (mean, std, ZCA matrix) from sample data.

        Only needed for `featurewise_center`, `featurewise_std_normalization` and `zca_whitening`.
        `rescale` is applied to the data first, as tf-keras does, so the statistics match what
        `standardize` sees.

        Args:
            x: sample data, rank 4 (1, 3 or 4 channels).
            augment: fit on randomly augmented copies of the samples.
            rounds: number of augmentation passes when `augment` is True.
            seed: random seed for the augmentation.
        """
        x = np.asarray(x, dtype=self.dtype)
        if x.ndim != 4:
            raise ValueError(f"Input to `.fit()` should have rank 4. Got array with shape: {x.shape}")
        if x.shape[self.channel_axis] not in (1, 3, 4):
            warnings.warn(f'Expected input to be images (as Numpy array) following the data format convention '
                          f'"{self.data_format}" (channels on axis {self.channel_axis}), i.e. expected either 1, '
                          f'3 or 4 channels on axis {self.channel_axis}. However, it was passed an array with '
                          f'shape {x.shape} ({x.shape[self.channel_axis]} channels).', stacklevel=2)
        rng = np.random if seed is None else np.random.RandomState(seed)
        x = np.copy(x)
        if self.rescale:
            x *= self.rescale
        if augment:
            params = [self._draw_transform(x.shape[1:], rng) for _ in range(rounds) for _ in range(len(x))]
            x = self._apply_transforms(np.concatenate([x] * rounds), params).astype(self.dtype, copy=False)
        broadcast_shape = [1, 1, 1]
        broadcast_shape[self.channel_axis - 1] = x.shape[self.channel_axis]
        if self.featurewise_center:
            self.mean = np.mean(x, axis=(0, self.row_axis, self.col_axis)).reshape(broadcast_shape)
            x -= self.mean
        if self.featurewise_std_normalization:
            self.std = np.std(x, axis=(0, self.row_axis, self.col_axis)).reshape(broadcast_shape)
            x /= self.std + 1e-6
        if self.zca_whitening:
            n = len(x)
            u, s, _ = np.linalg.svd(x.reshape(n, -1).T, full_matrices=False)
            s_inv = np.sqrt(n) / (s + self.zca_epsilon)
            self.zca_whitening_matrix = (u * s_inv) @ u.T
