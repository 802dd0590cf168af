"""Keras 2's `keras.preprocessing.image`: real-time augmentation (`ImageDataGenerator`), the iterators
it returns (fitgen Sequences, safe for thread and process workers) and image file utilities.

Pillow is needed to read and write image files (`pip install fitgen[image]`); pandas for
`flow_from_dataframe`. Neither is imported until used.
"""
from fitgen.preprocessing.image.dataframe_iterator import DataFrameIterator
from fitgen.preprocessing.image.directory_iterator import BatchFromFilesMixin
from fitgen.preprocessing.image.directory_iterator import DirectoryIterator
from fitgen.preprocessing.image.image_data_generator import ImageDataGenerator
from fitgen.preprocessing.image.io import UnreadableImageError
from fitgen.preprocessing.image.io import array_to_img
from fitgen.preprocessing.image.io import img_to_array
from fitgen.preprocessing.image.io import list_pictures
from fitgen.preprocessing.image.io import load_img
from fitgen.preprocessing.image.io import save_img
from fitgen.preprocessing.image.iterators import Iterator
from fitgen.preprocessing.image.iterators import NumpyArrayIterator
from fitgen.preprocessing.image.transforms import apply_affine_transform
from fitgen.preprocessing.image.transforms import apply_brightness_shift
from fitgen.preprocessing.image.transforms import apply_channel_shift
from fitgen.preprocessing.image.transforms import flip_axis
from fitgen.preprocessing.image.transforms import random_brightness
from fitgen.preprocessing.image.transforms import random_channel_shift
from fitgen.preprocessing.image.transforms import random_rotation
from fitgen.preprocessing.image.transforms import random_shear
from fitgen.preprocessing.image.transforms import random_shift
from fitgen.preprocessing.image.transforms import random_zoom
from fitgen.preprocessing.image.transforms import transform_matrix_offset_center

__all__ = [
    "BatchFromFilesMixin", "DataFrameIterator", "DirectoryIterator", "ImageDataGenerator", "Iterator",
    "NumpyArrayIterator", "UnreadableImageError", "apply_affine_transform", "apply_brightness_shift",
    "apply_channel_shift", "array_to_img", "flip_axis", "img_to_array", "list_pictures", "load_img",
    "random_brightness", "random_channel_shift", "random_rotation", "random_shear", "random_shift", "random_zoom",
    "save_img", "transform_matrix_offset_center",
]
