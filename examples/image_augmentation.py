"""Real-time image augmentation feeding fit_generator: a Keras 2 script with only its imports changed.

Writes a folder of small generated pictures (circles, squares and triangles in random colours, sizes and
places, one subfolder per class), then trains a small CNN on it with
`ImageDataGenerator.flow_from_directory` and `fit_generator`. The decoding and the random rotations,
shifts, zooms and flips run in two worker processes while the model trains.

Usage: python examples/image_augmentation.py [--images-per-class 300] [--epochs 10] [--workers 2]
"""
import argparse
import os
import tempfile

import numpy as np
from PIL import Image
from PIL import ImageDraw

from fitgen.layers import Conv2D, Dense, Dropout, Flatten, MaxPooling2D
from fitgen.models import Sequential
from fitgen.preprocessing.image import ImageDataGenerator

CLASSES = ("circle", "square", "triangle")
IMAGE_SIZE = 48


def draw_shape(kind, rng):
    """One IMAGE_SIZE x IMAGE_SIZE RGB picture of `kind` on a noisy background."""
    background = rng.integers(0, 80, (IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
    img = Image.fromarray(background, "RGB")
    draw = ImageDraw.Draw(img)
    size = int(rng.integers(14, 26))
    x0, y0 = (int(v) for v in rng.integers(4, IMAGE_SIZE - size - 4, 2))
    colour = tuple(int(c) for c in rng.integers(120, 256, 3))
    if kind == "circle":
        draw.ellipse([x0, y0, x0 + size, y0 + size], fill=colour)
    elif kind == "square":
        draw.rectangle([x0, y0, x0 + size, y0 + size], fill=colour)
    else:
        draw.polygon([(x0 + size // 2, y0), (x0, y0 + size), (x0 + size, y0 + size)], fill=colour)
    return img


def make_dataset(root, images_per_class, seed=0):
    rng = np.random.default_rng(seed)
    for kind in CLASSES:
        os.makedirs(os.path.join(root, kind), exist_ok=True)
        for i in range(images_per_class):
            draw_shape(kind, rng).save(os.path.join(root, kind, f"{kind}_{i:04d}.jpg"), quality=90)
    return root


def build_model(num_classes):
    model = Sequential()
    model.add(Conv2D(16, (3, 3), activation="relu", input_shape=(IMAGE_SIZE, IMAGE_SIZE, 3)))
    model.add(MaxPooling2D(pool_size=(2, 2)))
    model.add(Conv2D(32, (3, 3), activation="relu"))
    model.add(MaxPooling2D(pool_size=(2, 2)))
    model.add(Conv2D(32, (3, 3), activation="relu"))
    model.add(MaxPooling2D(pool_size=(2, 2)))
    model.add(Flatten())
    model.add(Dense(64, activation="relu"))
    model.add(Dropout(0.3))
    model.add(Dense(num_classes, activation="softmax"))
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images-per-class", type=int, default=300)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="fitgen_shapes_") as tmp:
        data_dir = make_dataset(os.path.join(tmp, "shapes"), args.images_per_class)

        train_datagen = ImageDataGenerator(rescale=1. / 255, rotation_range=20, width_shift_range=0.1,
                                           height_shift_range=0.1, zoom_range=0.1, horizontal_flip=True,
                                           validation_split=0.2)
        test_datagen = ImageDataGenerator(rescale=1. / 255, validation_split=0.2)
        train_generator = train_datagen.flow_from_directory(
            data_dir, target_size=(IMAGE_SIZE, IMAGE_SIZE), batch_size=args.batch_size,
            class_mode="categorical", subset="training", seed=1)
        validation_generator = test_datagen.flow_from_directory(
            data_dir, target_size=(IMAGE_SIZE, IMAGE_SIZE), batch_size=args.batch_size,
            class_mode="categorical", subset="validation", shuffle=False)
        print("class_indices:", train_generator.class_indices)

        model = build_model(train_generator.num_classes)
        model.summary()
        model.fit_generator(
            train_generator,
            steps_per_epoch=len(train_generator),
            epochs=args.epochs,
            validation_data=validation_generator,
            validation_steps=len(validation_generator),
            workers=args.workers,
            use_multiprocessing=args.workers > 0)

        loss, accuracy = model.evaluate_generator(validation_generator, steps=len(validation_generator))
        print(f"validation loss {loss:.4f}, accuracy {accuracy:.4f}")


if __name__ == "__main__":
    main()
