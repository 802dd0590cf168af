"""Issue 8's proof: Keras 2 scripts that augment images with ImageDataGenerator and train on them run with
only their imports changed, with the decoding and augmentation in worker processes.

Every batch an image iterator builds, in whichever process, is logged (subset, epoch, file names) to a file
by patching the iterators' batch builder before the workers fork; the tests then check that each epoch
trained on every image exactly once.
"""
import collections
import importlib.util
import os
import sys

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("PIL")

from helpers.images import class_colour  # noqa: E402
from helpers.images import write_image  # noqa: E402

from fitgen import Input  # noqa: E402
from fitgen.layers import Conv2D, Dense, GlobalAveragePooling2D, MaxPooling2D  # noqa: E402
from fitgen.models import Model, Sequential  # noqa: E402
from fitgen.preprocessing.image import BatchFromFilesMixin, ImageDataGenerator  # noqa: E402

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "image_augmentation.py")


@pytest.fixture
def batch_log(tmp_path, monkeypatch):
    """Logs every file-backed batch as `subset<TAB>epoch<TAB>filename` lines; returns a reader."""
    path = str(tmp_path / "batches.log")
    original = BatchFromFilesMixin._get_batches_of_transformed_samples

    def logged(self, index_array):
        lines = "".join(f"{self.subset}\t{self.epoch}\t{self.filenames[j]}\n" for j in index_array)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        try:
            os.write(fd, lines.encode())  # one append per batch: whole lines even from several processes
        finally:
            os.close(fd)
        return original(self, index_array)

    monkeypatch.setattr(BatchFromFilesMixin, "_get_batches_of_transformed_samples", logged)

    def read(subset=None):
        """{epoch: Counter of file names} for the batches of `subset` (None: iterators without a subset)."""
        per_epoch = collections.defaultdict(collections.Counter)
        if not os.path.exists(path):
            return per_epoch
        with open(path) as f:
            for line in f:
                logged_subset, epoch, name = line.rstrip("\n").split("\t")
                if logged_subset == str(subset):
                    per_epoch[int(epoch)][name] += 1
        return per_epoch

    return read


def _assert_each_epoch_sees_every_image_once(per_epoch, filenames, epochs):
    assert sorted(per_epoch) == list(range(epochs))
    for epoch, counts in per_epoch.items():
        assert counts == collections.Counter(filenames), f"epoch {epoch}: {counts}"


def _load_example():
    spec = importlib.util.spec_from_file_location("fitgen_example_image_augmentation", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_image_augmentation_example_trains_with_two_worker_processes(batch_log, monkeypatch, capsys):
    example = _load_example()
    models = []

    def build_model(num_classes):
        models.append(example_build(num_classes))
        return models[-1]

    example_build = example.build_model
    monkeypatch.setattr(example, "build_model", build_model)
    monkeypatch.setattr(sys, "argv", ["image_augmentation.py", "--images-per-class", "10", "--epochs", "2",
                                      "--workers", "2", "--batch-size", "8"])
    example.main()
    out = capsys.readouterr().out

    assert "Found 24 images belonging to 3 classes." in out and "Found 6 images belonging to 3 classes." in out
    assert "class_indices: {'circle': 0, 'square': 1, 'triangle': 2}" in out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out and "validation loss" in out
    history = models[0].history
    assert set(history.history) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert history.epoch == [0, 1] and all(np.isfinite(history.history["loss"]))
    # 80% of each class trains; Keras's split puts the first 20% of each class folder into validation.
    train_names = [f"{kind}/{kind}_{i:04d}.jpg" for kind in example.CLASSES for i in range(2, 10)]
    _assert_each_epoch_sees_every_image_once(batch_log("training"), train_names, 2)


def _clothes(root, per_combination=2):
    """Pictures of garments in colours: the colour paints the picture, the garment is only a label."""
    rows = []
    for garment in ("shirt", "jeans", "dress"):
        for c, colour in enumerate(("red", "green", "blue")):
            for i in range(per_combination):
                name = f"{colour}_{garment}_{i}.png"
                write_image(os.path.join(root, name), class_colour(c), size=(16, 16), seed=len(rows))
                rows.append((name, garment, colour))
    df = pd.DataFrame(rows, columns=["filename", "garment", "colour"])
    df["tags"] = [[g, c] for g, c in zip(df.garment, df.colour)]
    return df


def _trunk(inputs):
    x = Conv2D(8, (3, 3), activation="relu")(inputs)
    x = MaxPooling2D()(x)
    return GlobalAveragePooling2D()(x)


def test_multi_label_dataframe_trains_a_sigmoid_model_through_fit_with_workers(tmp_path, batch_log):
    folder = str(tmp_path / "clothes")
    df = _clothes(folder)
    datagen = ImageDataGenerator(rescale=1. / 255, horizontal_flip=True, rotation_range=10)
    train = datagen.flow_from_dataframe(df, folder, x_col="filename", y_col="tags", target_size=(16, 16),
                                        batch_size=5, seed=3)
    assert train.class_indices == {"blue": 0, "dress": 1, "green": 2, "jeans": 3, "red": 4, "shirt": 5}
    model = Sequential([Conv2D(8, (3, 3), activation="relu", input_shape=(16, 16, 3)), MaxPooling2D(),
                        GlobalAveragePooling2D(), Dense(len(train.class_indices), activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(train, epochs=3, verbose=0, workers=2, use_multiprocessing=True)

    assert set(history.history) >= {"loss", "accuracy"} and history.epoch == [0, 1, 2]
    assert all(np.isfinite(history.history["loss"]))
    _assert_each_epoch_sees_every_image_once(batch_log(None), list(df.filename), 3)
    orders = [train._epoch_order(e) for e in range(3)]
    assert any((orders[0] != o).any() for o in orders[1:])  # reshuffled per epoch
    probabilities = model.predict(train[0][0])
    assert probabilities.shape == (5, 6) and ((probabilities > 0) & (probabilities < 1)).all()


def test_multi_output_dataframe_trains_a_two_head_functional_model(tmp_path, batch_log):
    folder = str(tmp_path / "clothes")
    df = _clothes(folder)
    df["garment_id"] = df.garment.map({"shirt": 0, "jeans": 1, "dress": 2})
    df["colour_onehot"] = [list(np.eye(3)[{"red": 0, "green": 1, "blue": 2}[c]]) for c in df.colour]
    datagen = ImageDataGenerator(rescale=1. / 255, validation_split=1 / 3)
    flow = {"directory": folder, "x_col": "filename", "y_col": ["garment_id", "colour_onehot"],
            "class_mode": "multi_output", "target_size": (16, 16), "batch_size": 4}
    train = datagen.flow_from_dataframe(df, subset="training", seed=5, **flow)
    val = datagen.flow_from_dataframe(df, subset="validation", shuffle=False, **flow)

    inputs = Input(shape=(16, 16, 3))
    features = _trunk(inputs)
    garment = Dense(3, activation="softmax", name="garment")(features)
    colour = Dense(3, activation="softmax", name="colour")(features)
    model = Model(inputs, [garment, colour])
    model.compile(optimizer="adam", loss=["sparse_categorical_crossentropy", "categorical_crossentropy"],
                  metrics=["accuracy"])
    history = model.fit(train, validation_data=val, epochs=2, verbose=0, workers=2, use_multiprocessing=True)

    keys = set(history.history)
    assert {"loss", "garment_loss", "colour_loss", "val_loss", "val_garment_loss", "val_colour_loss"} <= keys
    assert {"garment_accuracy", "colour_accuracy", "val_garment_accuracy", "val_colour_accuracy"} <= keys
    np.testing.assert_allclose(history.history["loss"],
                               np.add(history.history["garment_loss"], history.history["colour_loss"]),
                               rtol=1e-4)
    _assert_each_epoch_sees_every_image_once(batch_log("training"), train.filenames, 2)
    assert len(train.filenames) == 12 and len(val.filenames) == 6
    assert not set(train.filenames) & set(val.filenames)
    garments, colours = model.predict(val)
    assert garments.shape == (6, 3) and colours.shape == (6, 3)
