"""flow_from_dataframe: every class_mode, multi-label (multi-hot) and multi-output targets, filtering, errors."""
import os
import pickle

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("PIL")

from helpers.images import class_colour  # noqa: E402
from helpers.images import class_of_pixels  # noqa: E402
from helpers.images import write_corrupt_jpeg  # noqa: E402
from helpers.images import write_image  # noqa: E402

from fitgen.preprocessing.image import DataFrameIterator  # noqa: E402
from fitgen.preprocessing.image import ImageDataGenerator  # noqa: E402

# The seed's clothes: each picture is a garment in a colour; colour k of the palette is painted.
ROWS = [("red_shirt.png", "shirt", "red", 0), ("blue_shirt.png", "shirt", "blue", 2),
        ("blue_jeans.png", "jeans", "blue", 2), ("red_dress.png", "dress", "red", 0),
        ("green_dress.png", "dress", "green", 1), ("blue_dress.png", "dress", "blue", 2)]


@pytest.fixture
def clothes(tmp_path):
    folder = tmp_path / "clothes"
    for i, (name, _, _, colour) in enumerate(ROWS):
        write_image(str(folder / name), class_colour(colour), size=(10, 8), seed=i)
    df = pd.DataFrame({"filename": [r[0] for r in ROWS], "garment": [r[1] for r in ROWS],
                       "colour": [r[2] for r in ROWS], "weight": np.arange(6, dtype=float)})
    df["tags"] = [[garment, colour] for garment, colour in zip(df.garment, df.colour)]
    return str(folder), df


def _flow(folder, df, **kwargs):
    kwargs.setdefault("target_size", (10, 8))
    kwargs.setdefault("shuffle", False)
    kwargs.setdefault("batch_size", 6)
    return ImageDataGenerator().flow_from_dataframe(df, folder, **kwargs)


def test_categorical_single_label(clothes, capsys):
    folder, df = clothes
    it = _flow(folder, df, y_col="colour")
    assert "Found 6 validated image filenames belonging to 3 classes." in capsys.readouterr().out
    assert isinstance(it, DataFrameIterator)
    assert it.class_indices == {"blue": 0, "green": 1, "red": 2}
    assert it.filenames == [r[0] for r in ROWS] and it.filepaths[0] == os.path.join(folder, "red_shirt.png")
    batch_x, batch_y = it[0]
    assert batch_x.shape == (6, 10, 8, 3)
    np.testing.assert_array_equal(batch_y.argmax(axis=1), [2, 0, 0, 2, 1, 0])
    palette_of = {"red": 0, "green": 1, "blue": 2}
    for image, colour in zip(batch_x, df.colour):
        assert class_of_pixels(image) == palette_of[colour]


def test_multi_label_lists_give_multi_hot_targets(clothes):
    folder, df = clothes
    it = _flow(folder, df, y_col="tags")
    assert it.class_indices == {"blue": 0, "dress": 1, "green": 2, "jeans": 3, "red": 4, "shirt": 5}
    _, batch_y = it[0]
    assert batch_y.shape == (6, 6)
    np.testing.assert_array_equal(batch_y.sum(axis=1), np.full(6, 2))
    np.testing.assert_array_equal(batch_y[1], [1, 0, 0, 0, 0, 1])  # blue shirt
    assert it.classes[2] == [3, 0]  # jeans, blue


def test_multi_output_gives_one_target_per_column(clothes):
    folder, df = clothes
    df["garment_id"] = df.garment.map({"shirt": 0, "jeans": 1, "dress": 2})
    df["colour_onehot"] = [list(np.eye(3)[{"red": 0, "green": 1, "blue": 2}[c]]) for c in df.colour]
    it = _flow(folder, df, y_col=["garment_id", "colour_onehot"], class_mode="multi_output", shuffle=True, seed=1,
               batch_size=4)
    batch_x, (garments, colours) = it[0]
    assert garments.shape == (4,) and colours.shape == (4, 3)
    rows = it.index_array[:4]
    np.testing.assert_array_equal(garments, df.garment_id.values[rows])
    for image, onehot in zip(batch_x, colours):
        assert class_of_pixels(image) == int(np.argmax(onehot))
    with pytest.raises(TypeError, match="holds strings"):
        _flow(folder, df, y_col=["garment", "colour"], class_mode="multi_output")
    with pytest.raises(TypeError, match="must be a list"):
        _flow(folder, df, y_col="garment_id", class_mode="multi_output")


def test_raw_sparse_binary_input_and_none(clothes):
    folder, df = clothes
    raw = _flow(folder, df, y_col="weight", class_mode="raw")[0][1]
    np.testing.assert_array_equal(raw, np.arange(6.0))
    sparse = _flow(folder, df, y_col="garment", class_mode="sparse")[0][1]
    np.testing.assert_array_equal(sparse, [2, 2, 1, 0, 0, 0])  # dress, jeans, shirt
    pair = df[df.garment != "jeans"]
    binary = _flow(folder, pair, y_col="garment", class_mode="binary")[0][1]
    np.testing.assert_array_equal(binary, [1, 1, 0, 0, 0])
    batch_x, batch_y = _flow(folder, df, class_mode="input")[0]
    np.testing.assert_array_equal(batch_x, batch_y)
    assert _flow(folder, df, class_mode=None)[0].shape == (6, 10, 8, 3)
    with pytest.warns(DeprecationWarning):
        assert _flow(folder, df, y_col="weight", class_mode="other").class_mode == "raw"


def test_weight_col_and_classes_filter(clothes):
    folder, df = clothes
    batch = _flow(folder, df, y_col="colour", weight_col="weight")[0]
    assert len(batch) == 3
    np.testing.assert_array_equal(batch[2], np.arange(6.0))
    it = _flow(folder, df, y_col="colour", classes=["red", "green"])
    assert it.class_indices == {"red": 0, "green": 1} and it.samples == 3
    assert it.filenames == ["red_shirt.png", "red_dress.png", "green_dress.png"]


def test_validate_filenames_drops_missing_files_and_absolute_paths_work(clothes):
    folder, df = clothes
    extra = pd.DataFrame({"filename": ["missing.png", "notes.txt"], "colour": ["red", "red"]})
    with pytest.warns(UserWarning, match="2 invalid image filename"):
        it = _flow(folder, pd.concat([df, extra], ignore_index=True), y_col="colour")
    assert it.samples == 6
    absolute = df.assign(filename=[os.path.join(folder, f) for f in df.filename])
    assert ImageDataGenerator().flow_from_dataframe(absolute, y_col="colour", target_size=(4, 4)).samples == 6
    unchecked = _flow(folder, pd.concat([df, extra], ignore_index=True), y_col="colour",
                      validate_filenames=False)
    assert unchecked.samples == 8


def test_subsets_and_pickling(clothes):
    folder, df = clothes
    gen = ImageDataGenerator(validation_split=1 / 3)
    val = gen.flow_from_dataframe(df, folder, y_col="colour", subset="validation", target_size=(4, 4),
                                  shuffle=False)
    train = gen.flow_from_dataframe(df, folder, y_col="colour", subset="training", target_size=(4, 4),
                                    shuffle=False)
    assert val.filenames == ["red_shirt.png", "blue_shirt.png"] and train.samples == 4
    copy = pickle.loads(pickle.dumps(train))
    np.testing.assert_array_equal(copy[0][0], train[0][0])


def test_corrupt_file_in_dataframe_names_the_file(clothes):
    folder, df = clothes
    write_corrupt_jpeg(os.path.join(folder, "broken.jpg"))
    bad = pd.concat([df, pd.DataFrame({"filename": ["broken.jpg"], "colour": ["red"]})], ignore_index=True)
    with pytest.raises(OSError, match="broken.jpg"):
        _flow(folder, bad, y_col="colour", batch_size=7)[0]
    with pytest.warns(UserWarning, match="broken.jpg"):
        assert len(_flow(folder, bad, y_col="colour", batch_size=7, on_error="skip")[0][0]) == 6


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(y_col="colour", class_mode="ordinal"), ValueError, "Invalid class_mode"),
    (dict(y_col="label"), ValueError, "not in the dataframe"),
    (dict(x_col="path", y_col="colour"), ValueError, "not in the dataframe"),
    (dict(y_col="colour", class_mode="binary"), ValueError, "2 classes"),
    (dict(y_col="weight", class_mode="sparse"), TypeError, "must be strings"),
    (dict(y_col="colour", weight_col="garment"), TypeError, "must be numeric"),
    (dict(y_col="colour", target_size=(4,)), ValueError, "target_size"),
])
def test_bad_arguments(clothes, kwargs, error, message):
    folder, df = clothes
    with pytest.raises(error, match=message):
        ImageDataGenerator().flow_from_dataframe(df, folder, **kwargs)


def test_not_a_dataframe_and_no_rows(clothes, tmp_path):
    folder, df = clothes
    with pytest.raises(TypeError, match="pandas DataFrame"):
        ImageDataGenerator().flow_from_dataframe({"filename": []}, folder)
    with pytest.raises(ValueError, match="no usable rows"), pytest.warns(UserWarning):
        ImageDataGenerator().flow_from_dataframe(df, str(tmp_path / "elsewhere"), y_col="colour")
