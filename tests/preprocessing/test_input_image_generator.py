"""ImageDataGenerator refuses settings of the wrong type when it is made, naming them, and a
`preprocessing_function` that returns nothing (or another shape) fails loudly instead of yielding NaN batches."""
import numpy as np
import pytest

from fitgen.preprocessing.image import ImageDataGenerator

IMAGES = np.random.default_rng(3).random((4, 8, 8, 3)).astype("float32")


@pytest.mark.parametrize("kwargs,words", [
    (dict(rotation_range="x"), r"`rotation_range` must be a number.*'x'"),
    (dict(shear_range=None), r"`shear_range` must be a number"),
    (dict(channel_shift_range=[1]), r"`channel_shift_range`"),
    (dict(zca_epsilon="small"), r"`zca_epsilon`"),
    (dict(cval="black"), r"`cval`"),
    (dict(width_shift_range="0.1"), r"`width_shift_range`"),
    (dict(height_shift_range=[1, "2"]), r"`height_shift_range`"),
    (dict(rescale="1/255"), r"`rescale` must be None or a number"),
    (dict(brightness_range=("a", "b")), r"`brightness_range`"),
    (dict(preprocessing_function="normalize"), r"`preprocessing_function` must be a function"),
    (dict(validation_split="0.2"), r"`validation_split`"),
])
def test_settings_of_the_wrong_type_are_refused_at_construction(kwargs, words):
    with pytest.raises(TypeError, match=words):
        ImageDataGenerator(**kwargs)


def test_keras2_settings_still_work():
    generator = ImageDataGenerator(rotation_range=10, width_shift_range=[-1, 0, 1], height_shift_range=2,
                                   rescale=1. / 255, brightness_range=[0.9, 1.1], cval=np.float32(0),
                                   preprocessing_function=lambda image: image * 2)
    x, y = next(generator.flow(IMAGES, np.zeros(4), batch_size=2, seed=1))
    assert x.shape == (2, 8, 8, 3) and np.isfinite(x).all()


@pytest.mark.parametrize("function,words", [
    (lambda image: None, r"returned None"),
    (lambda image: image[:4], r"of shape \(8, 8, 3\), but returned ndarray of shape \(4, 8, 3\)"),
], ids=["none", "shape"])
def test_preprocessing_function_must_return_the_image(function, words):
    generator = ImageDataGenerator(preprocessing_function=function)
    with pytest.raises(ValueError, match=r"`preprocessing_function` .*" + words):
        next(generator.flow(IMAGES, np.zeros(4), batch_size=2))
    with pytest.raises(ValueError, match=words):
        generator.standardize(IMAGES[0].copy())
