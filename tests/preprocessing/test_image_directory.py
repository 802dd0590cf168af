"""flow_from_directory: class discovery, file order, every class_mode, subsets, errors and bad files."""
import os
import pickle

import numpy as np
import pytest

pytest.importorskip("PIL")

from helpers.images import class_of_pixels  # noqa: E402
from helpers.images import make_image_folder  # noqa: E402
from helpers.images import write_corrupt_jpeg  # noqa: E402
from helpers.images import write_image  # noqa: E402

from fitgen.data.sequence import Sequence  # noqa: E402
from fitgen.preprocessing.image import DirectoryIterator  # noqa: E402
from fitgen.preprocessing.image import ImageDataGenerator  # noqa: E402


@pytest.fixture
def folder(tmp_path):
    return make_image_folder(tmp_path / "data", {"cats": 5, "dogs": 4, "birds": 3}, nested_every=2)


def _all_batches(it):
    return [it[i] for i in range(len(it))]


def test_classes_filenames_and_counts_follow_keras_order(folder, capsys):
    it = ImageDataGenerator().flow_from_directory(folder, target_size=(12, 10), batch_size=4, shuffle=False)
    assert "Found 12 images belonging to 3 classes." in capsys.readouterr().out
    assert isinstance(it, DirectoryIterator) and isinstance(it, Sequence)
    assert it.class_indices == {"birds": 0, "cats": 1, "dogs": 2}
    assert it.num_classes == 3 and it.samples == 12 and len(it) == 3
    # Per class: the class folder's own files (sorted) first, then subfolders, as os.walk sorted by root.
    assert it.filenames[:3] == ["birds/birds_01.png", "birds/deeper/birds_00.png", "birds/deeper/birds_02.png"]
    assert it.filenames[3:8] == ["cats/cats_01.png", "cats/cats_03.png", "cats/deeper/cats_00.png",
                                 "cats/deeper/cats_02.png", "cats/deeper/cats_04.png"]
    assert it.classes.tolist() == [0] * 3 + [1] * 5 + [2] * 4
    assert it.filepaths[0] == os.path.join(folder, "birds/birds_01.png")
    assert it.labels is it.classes


def test_categorical_batches_carry_the_right_labels(folder):
    it = ImageDataGenerator().flow_from_directory(folder, target_size=(12, 10), batch_size=5, seed=1)
    seen = 0
    for batch_x, batch_y in _all_batches(it):
        assert batch_x.shape[1:] == (12, 10, 3) and batch_x.dtype == np.float32
        assert batch_y.shape[1] == 3 and np.all(batch_y.sum(axis=1) == 1)
        for image, target in zip(batch_x, batch_y):
            assert class_of_pixels(image) == int(np.argmax(target))  # never a wrong label
        seen += len(batch_x)
    assert seen == 12


@pytest.mark.parametrize("class_mode", ["sparse", "binary", "input", None])
def test_other_class_modes(tmp_path, class_mode):
    counts = {"cats": 3, "dogs": 2} if class_mode == "binary" else {"a": 3, "b": 2, "c": 2}
    folder = make_image_folder(tmp_path / "d", counts)
    it = ImageDataGenerator(rescale=1 / 255.0).flow_from_directory(folder, target_size=(6, 5), batch_size=10,
                                                                   class_mode=class_mode, shuffle=False)
    batch = it[0]
    if class_mode is None:
        assert isinstance(batch, np.ndarray) and batch.shape == (it.samples, 6, 5, 3)
        return
    batch_x, batch_y = batch
    if class_mode == "input":
        np.testing.assert_array_equal(batch_y, batch_x)
        assert batch_y is not batch_x
    else:
        assert batch_y.dtype == np.float32
        np.testing.assert_array_equal(batch_y, it.classes)


def test_target_size_color_modes_and_interpolation(tmp_path):
    folder = make_image_folder(tmp_path / "d", {"a": 2}, size=(12, 10))
    gen = ImageDataGenerator()
    for mode, channels in (("grayscale", 1), ("rgb", 3), ("rgba", 4)):
        batch_x, _ = gen.flow_from_directory(folder, target_size=(7, 9), color_mode=mode, batch_size=2)[0]
        assert batch_x.shape == (2, 7, 9, channels)
    nearest = gen.flow_from_directory(folder, target_size=(5, 5), shuffle=False)[0][0]
    bicubic = gen.flow_from_directory(folder, target_size=(5, 5), shuffle=False, interpolation="bicubic")[0][0]
    assert not np.array_equal(nearest, bicubic)
    first = ImageDataGenerator(data_format="channels_first").flow_from_directory(folder, target_size=(7, 9))
    assert first[0][0].shape == (2, 3, 7, 9)


def test_classes_argument_selects_and_orders_classes(folder):
    it = ImageDataGenerator().flow_from_directory(folder, target_size=(12, 10), classes=["dogs", "cats"],
                                                  shuffle=False)
    assert it.class_indices == {"dogs": 0, "cats": 1}
    assert it.samples == 9 and it.filenames[0].startswith("dogs/")
    for image, target in zip(*it[0]):
        assert class_of_pixels(image) == {0: 2, 1: 1}[int(np.argmax(target))]


def test_subsets_split_each_class_folder(folder):
    gen = ImageDataGenerator(validation_split=0.4)
    train = gen.flow_from_directory(folder, target_size=(12, 10), subset="training", shuffle=False)
    val = gen.flow_from_directory(folder, target_size=(12, 10), subset="validation", shuffle=False)
    # int(0.4 * n) first files of every class go to validation: birds 1 of 3, cats 2 of 5, dogs 1 of 4.
    assert val.filenames == ["birds/birds_01.png", "cats/cats_01.png", "cats/cats_03.png", "dogs/dogs_01.png"]
    assert sorted(train.filenames + val.filenames) == sorted(
        ImageDataGenerator().flow_from_directory(folder, target_size=(12, 10)).filenames)
    assert not set(train.filenames) & set(val.filenames)


def test_epochs_cover_every_file_once_and_reshuffle(folder):
    it = ImageDataGenerator().flow_from_directory(folder, target_size=(4, 4), batch_size=5, class_mode="sparse",
                                                  seed=7)
    orders = []
    for _ in range(2):
        order = np.concatenate([it.index_array[i * 5:(i + 1) * 5] for i in range(len(it))])
        assert sorted(order.tolist()) == list(range(12))
        labels = np.concatenate([it[i][1] for i in range(len(it))])
        np.testing.assert_array_equal(labels, it.classes[order])
        orders.append(order.tolist())
        it.on_epoch_end()
    assert orders[0] != orders[1]


def test_directory_iterator_pickles_and_rebuilds_batches(folder):
    it = ImageDataGenerator(rotation_range=20, horizontal_flip=True).flow_from_directory(
        folder, target_size=(12, 10), batch_size=4, seed=3)
    copy = pickle.loads(pickle.dumps(it))
    np.testing.assert_array_equal(copy[1][0], it[1][0])
    np.testing.assert_array_equal(copy[1][1], it[1][1])


def test_save_to_dir_writes_the_augmented_pictures(folder, tmp_path):
    out = tmp_path / "saved"
    out.mkdir()
    ImageDataGenerator().flow_from_directory(folder, target_size=(6, 6), batch_size=3, save_to_dir=str(out),
                                             save_prefix="aug", save_format="png", seed=0)[0]
    names = sorted(os.listdir(out))
    assert len(names) == 3 and all(n.startswith("aug_") and n.endswith(".png") for n in names)


@pytest.mark.parametrize("kwargs, message", [
    (dict(class_mode="multi_output"), "Invalid class_mode"),
    (dict(class_mode="categorial"), "expected one of"),
    (dict(target_size=(0, 5)), "target_size"),
    (dict(target_size=64), "target_size"),
    (dict(target_size=(32, 32, 3)), "target_size"),
    (dict(color_mode="bgr"), "color_mode"),
    (dict(interpolation="cubic"), "interpolation"),
    (dict(subset="testing"), "subset"),
    (dict(on_error="ignore"), "on_error"),
    (dict(class_mode="binary"), "exactly 2 classes"),
    (dict(classes=["cats", "horses"]), "horses"),
])
def test_bad_arguments_raise_value_errors(folder, kwargs, message):
    with pytest.raises(ValueError, match=message):
        ImageDataGenerator().flow_from_directory(folder, **kwargs)


def test_a_directory_without_images_raises(tmp_path):
    (tmp_path / "empty" / "cats").mkdir(parents=True)
    (tmp_path / "empty" / "cats" / "notes.txt").write_text("no pictures here")
    with pytest.raises(ValueError, match="found no images"):
        ImageDataGenerator().flow_from_directory(str(tmp_path / "empty"))
    with pytest.raises(FileNotFoundError, match="not a directory"):
        ImageDataGenerator().flow_from_directory(str(tmp_path / "missing"))
    folder = make_image_folder(tmp_path / "few", {"a": 2})
    with pytest.raises(ValueError, match="subset='validation'"):
        ImageDataGenerator(validation_split=0.1).flow_from_directory(folder, subset="validation")


@pytest.mark.parametrize("kind", ["truncated", "garbage"])
def test_a_corrupt_jpeg_raises_an_error_naming_the_file(tmp_path, kind):
    folder = make_image_folder(tmp_path / "d", {"a": 2, "b": 2}, ext="jpg")
    bad = write_corrupt_jpeg(os.path.join(folder, "b", "b_99.jpg"), kind)
    it = ImageDataGenerator().flow_from_directory(folder, target_size=(8, 8), batch_size=5, shuffle=False)
    with pytest.raises(OSError, match="b_99.jpg") as info:
        it[0]
    assert info.value.path == bad


def test_on_error_skip_drops_bad_files_with_a_warning(tmp_path):
    folder = make_image_folder(tmp_path / "d", {"a": 2, "b": 2}, ext="jpg")
    write_corrupt_jpeg(os.path.join(folder, "b", "b_99.jpg"))
    it = ImageDataGenerator().flow_from_directory(folder, target_size=(8, 8), batch_size=5, shuffle=False,
                                                  on_error="skip")
    with pytest.warns(UserWarning, match="b_99.jpg"):
        batch_x, batch_y = it[0]
    assert len(batch_x) == len(batch_y) == 4
    for image, target in zip(batch_x, batch_y):
        assert class_of_pixels(image) == int(np.argmax(target))


def test_non_image_files_and_symlinks(tmp_path):
    folder = make_image_folder(tmp_path / "d", {"a": 2})
    write_image(str(tmp_path / "outside" / "x.PNG"), np.array([230.0, 30, 30]))
    os.symlink(str(tmp_path / "outside"), os.path.join(folder, "a", "linked"))
    assert ImageDataGenerator().flow_from_directory(folder).samples == 2
    assert ImageDataGenerator().flow_from_directory(folder, follow_links=True).samples == 3
