"""load_img / img_to_array / array_to_img / save_img / list_pictures, and the optional Pillow import."""
import io
import os
import pathlib
import sys

import numpy as np
import pytest

from fitgen.preprocessing import image as image_module
from fitgen.preprocessing.image import UnreadableImageError
from fitgen.preprocessing.image import array_to_img
from fitgen.preprocessing.image import img_to_array
from fitgen.preprocessing.image import list_pictures
from fitgen.preprocessing.image import load_img
from fitgen.preprocessing.image import save_img

Image = pytest.importorskip("PIL.Image")

from helpers.images import write_corrupt_jpeg  # noqa: E402


@pytest.fixture
def picture(tmp_path):
    pixels = (np.arange(6 * 8 * 3).reshape(6, 8, 3) * 2).astype(np.uint8)
    path = tmp_path / "pic.png"
    Image.fromarray(pixels, "RGB").save(path)
    return str(path), pixels


def test_load_img_modes_and_sizes(picture):
    path, pixels = picture
    img = load_img(path)
    assert img.mode == "RGB" and img.size == (8, 6)
    np.testing.assert_array_equal(np.asarray(img), pixels)
    assert load_img(pathlib.Path(path), color_mode="grayscale").mode == "L"
    assert load_img(path, color_mode="rgba").mode == "RGBA"
    with pytest.warns(UserWarning, match="grayscale is deprecated"):
        assert load_img(path, grayscale=True).mode == "L"
    assert load_img(path, target_size=(3, 4)).size == (4, 3)
    expected = Image.fromarray(pixels).resize((4, 3), Image.Resampling.BILINEAR)
    np.testing.assert_array_equal(np.asarray(load_img(path, target_size=(3, 4), interpolation="bilinear")),
                                  np.asarray(expected))
    with open(path, "rb") as f:
        assert load_img(io.BytesIO(f.read())).size == (8, 6)
    assert load_img(path, target_size=(4, 4), keep_aspect_ratio=True).size == (4, 4)


@pytest.mark.parametrize("kwargs, message", [
    (dict(color_mode="cmyk"), "color_mode"),
    (dict(interpolation="area"), "interpolation"),
    (dict(target_size=(3, -4)), "target_size"),
])
def test_load_img_bad_arguments(picture, kwargs, message):
    with pytest.raises(ValueError, match=message):
        load_img(picture[0], **kwargs)


def test_unreadable_files_name_the_path(tmp_path):
    bad = write_corrupt_jpeg(str(tmp_path / "broken.jpg"), "garbage")
    with pytest.raises(UnreadableImageError, match="broken.jpg") as info:
        load_img(bad)
    assert isinstance(info.value, OSError) and info.value.path == bad
    with pytest.raises(FileNotFoundError):
        load_img(str(tmp_path / "nothing.png"))


def test_img_to_array_and_back(picture):
    path, pixels = picture
    x = img_to_array(load_img(path))
    assert x.dtype == np.float32 and x.shape == (6, 8, 3)
    np.testing.assert_array_equal(x, pixels)
    assert img_to_array(load_img(path), data_format="channels_first").shape == (3, 6, 8)
    assert img_to_array(load_img(path, color_mode="grayscale")).shape == (6, 8, 1)
    np.testing.assert_array_equal(np.asarray(array_to_img(x, scale=False)), pixels)
    stretched = np.asarray(array_to_img(x / 1000.0))  # scale=True: min-max to [0, 255]
    assert stretched.min() == 0 and stretched.max() == 255
    assert array_to_img(np.zeros((3, 4, 1))).mode == "L"
    assert array_to_img(np.full((3, 4, 1), 300.0), scale=False).mode == "I"
    assert array_to_img(np.zeros((3, 4, 5)), data_format="channels_first").size == (5, 4)
    with pytest.raises(ValueError, match="channel"):
        array_to_img(np.zeros((3, 4, 2)))
    with pytest.raises(ValueError, match="rank 3"):
        array_to_img(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="data_format"):
        img_to_array(load_img(path), data_format="nchw")


def test_save_img_round_trip(tmp_path, picture):
    _, pixels = picture
    target = str(tmp_path / "out.png")
    save_img(target, pixels.astype("float32"), scale=False)
    np.testing.assert_array_equal(np.asarray(Image.open(target)), pixels)
    with pytest.warns(UserWarning, match="RGBA"):
        save_img(str(tmp_path / "out.jpg"), np.zeros((4, 4, 4)), file_format="jpeg")
    assert os.path.exists(tmp_path / "out.jpg")


def test_list_pictures_is_recursive_sorted_and_filters_extensions(tmp_path):
    for name in ("b.jpg", "a.PNG", "sub/c.jpeg", "notes.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    found = [os.path.relpath(p, tmp_path) for p in list_pictures(str(tmp_path))]
    assert found == ["a.PNG", "b.jpg", os.path.join("sub", "c.jpeg")]
    assert [os.path.basename(p) for p in list_pictures(str(tmp_path), ext="jpg")] == ["b.jpg"]


def test_missing_pillow_gives_an_install_hint(monkeypatch, picture):
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ImportError, match=r"pip install fitgen\[image\]"):
        load_img(picture[0])
    with pytest.raises(ImportError, match="Pillow"):
        array_to_img(np.zeros((2, 2, 3)))


def test_package_exports_keras_names():
    for name in ("ImageDataGenerator", "Iterator", "NumpyArrayIterator", "DirectoryIterator", "DataFrameIterator",
                 "load_img", "img_to_array", "array_to_img", "save_img", "list_pictures", "apply_affine_transform",
                 "random_rotation", "random_shift", "random_shear", "random_zoom", "apply_channel_shift",
                 "random_channel_shift", "apply_brightness_shift", "random_brightness", "flip_axis"):
        assert hasattr(image_module, name), name
    import fitgen.preprocessing
    assert fitgen.preprocessing.image is image_module
