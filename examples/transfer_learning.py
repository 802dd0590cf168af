"""Transfer learning as Keras 2 books teach it: a frozen pretrained base, a new head, then fine-tuning.

The script is a Keras 2 transfer-learning chapter with only its imports changed (`keras.` -> `fitgen.`):

1. writes a folder of generated pictures (warm- or cold-tinted noise with a blob, one subfolder per class);
2. takes MobileNet (alpha 0.25, 64x64 inputs) without its top as a frozen convolutional base, adds a new
   classifier head, compiles and trains it with `fit_generator` from `flow_from_directory`;
3. unfreezes the base's last block and fine-tunes it with a low learning rate;
4. saves the whole model to `.h5` (a file tf-keras loads too) and loads it back.

Weights: by default the script runs offline. It makes a stand-in for Keras's ImageNet file
(`mobilenet_2_5_128_tf_no_top.h5`): MobileNet trained from random weights for a few epochs on another
generated task (which of four colour tints a picture has) and saved without its top to a local `.h5`. That path
is passed as `weights=PATH`, the way a Keras ImageNet file is used on a machine without network. With
`--weights imagenet` it loads Keras's real ImageNet weights instead (downloaded once, or taken from
`~/.keras/models`).

Frozen BatchNormalization layers run in inference mode (tf-keras 2.x's rule): training the head leaves the
base's moving statistics untouched, which the script checks.

Usage: python examples/transfer_learning.py [--images-per-class 120] [--epochs 3] [--weights imagenet]
                                          [--output model.h5]
"""
import argparse
import os
import tempfile

import numpy as np
from PIL import Image

from fitgen import optimizers
from fitgen.applications import MobileNet
from fitgen.applications.mobilenet import preprocess_input
from fitgen.layers import BatchNormalization, Dense, Dropout, GlobalAveragePooling2D
from fitgen.models import Sequential, load_model
from fitgen.preprocessing.image import ImageDataGenerator

IMAGE_SIZE = 64
# Colour tints (RGB factors) of the generated pictures: the pretraining task and the new task.
SOURCE_TINTS = {"blue": (0.6, 0.6, 1.3), "green": (0.6, 1.3, 0.6), "grey": (1.0, 1.0, 1.0), "red": (1.3, 0.6, 0.6)}
TARGET_TINTS = {"cold": (0.6, 0.9, 1.2), "warm": (1.2, 0.9, 0.6)}


def make_dataset(root, tints, images_per_class, seed=0):
    """One folder per class of IMAGE_SIZE x IMAGE_SIZE JPEGs: noise with a bright blob, tinted by the class."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[:IMAGE_SIZE, :IMAGE_SIZE]
    for kind, tint in tints.items():
        os.makedirs(os.path.join(root, kind), exist_ok=True)
        for i in range(images_per_class):
            image = rng.uniform(40, 140, (IMAGE_SIZE, IMAGE_SIZE, 3))
            centre, radius = rng.integers(16, 48, 2), rng.integers(8, 16)
            image[((rows - centre[0]) ** 2 + (cols - centre[1]) ** 2) < radius ** 2] += 100
            image = np.clip(image * np.array(tint) * rng.uniform(0.85, 1.15, 3), 0, 255)
            Image.fromarray(image.astype("uint8")).save(os.path.join(root, kind, f"{kind}_{i:04d}.jpg"), quality=90)
    return root


def directory_flow(datagen, data_dir, batch_size, class_mode, **kwargs):
    return datagen.flow_from_directory(data_dir, target_size=(IMAGE_SIZE, IMAGE_SIZE), batch_size=batch_size,
                                       class_mode=class_mode, **kwargs)


def pretrained_base_weights(folder, source, images_per_class, batch_size, epochs):
    """'imagenet', or the path of a local stand-in for Keras's ImageNet file: MobileNet trained from scratch
    for a few epochs on another task (which of four tints a picture has), saved without its top."""
    if source == "imagenet":
        return "imagenet"
    data_dir = make_dataset(os.path.join(folder, "source_task"), SOURCE_TINTS, images_per_class, seed=1)
    datagen = ImageDataGenerator(preprocessing_function=preprocess_input)
    base = MobileNet(input_shape=(IMAGE_SIZE, IMAGE_SIZE, 3), alpha=0.25, include_top=False, weights=None)
    for layer in base.layers:
        if isinstance(layer, BatchNormalization):
            layer.momentum = 0.9  # moving statistics that settle within this short training
    model = Sequential([base, GlobalAveragePooling2D(), Dense(len(SOURCE_TINTS), activation="softmax")])
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["acc"])
    model.fit_generator(directory_flow(datagen, data_dir, batch_size, "categorical", seed=2), epochs=epochs,
                        verbose=0)
    path = os.path.join(folder, "mobilenet_base_weights.h5")
    base.save_weights(path)
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images-per-class", type=int, default=120)
    parser.add_argument("--pretrain-epochs", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--fine-tune-epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--weights", default="local", choices=("local", "imagenet"))
    parser.add_argument("--output", default=None, help="where to save the model (default: a temporary folder)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="fitgen_transfer_") as tmp:
        weights = pretrained_base_weights(tmp, args.weights, args.images_per_class, args.batch_size,
                                          args.pretrain_epochs)
        data_dir = make_dataset(os.path.join(tmp, "new_task"), TARGET_TINTS, args.images_per_class)
        datagen = ImageDataGenerator(preprocessing_function=preprocess_input, horizontal_flip=True,
                                     validation_split=0.25)
        train_generator = directory_flow(datagen, data_dir, args.batch_size, "binary", subset="training", seed=1)
        validation_generator = directory_flow(datagen, data_dir, args.batch_size, "binary", subset="validation",
                                              shuffle=False)

        # 1. A frozen convolutional base and a new classifier on top.
        conv_base = MobileNet(weights=weights, include_top=False, alpha=0.25,
                              input_shape=(IMAGE_SIZE, IMAGE_SIZE, 3))
        conv_base.trainable = False
        model = Sequential()
        model.add(conv_base)
        model.add(GlobalAveragePooling2D())
        model.add(Dense(32, activation="relu"))
        model.add(Dropout(0.3))
        model.add(Dense(1, activation="sigmoid"))
        model.compile(loss="binary_crossentropy", optimizer=optimizers.RMSprop(lr=1e-3), metrics=["acc"])
        model.summary()
        frozen_before = conv_base.get_weights()
        model.fit_generator(train_generator, steps_per_epoch=len(train_generator), epochs=args.epochs,
                            validation_data=validation_generator, validation_steps=len(validation_generator))
        unchanged = all(np.array_equal(a, b) for a, b in zip(frozen_before, conv_base.get_weights()))
        print(f"frozen base unchanged by training (weights and BatchNormalization statistics): {unchanged}")

        # 2. Fine-tuning: unfreeze the last depthwise-separable block, train slowly.
        conv_base.trainable = True
        set_trainable = False
        for layer in conv_base.layers:
            if layer.name == "conv_dw_13":
                set_trainable = True
            layer.trainable = set_trainable
        model.compile(loss="binary_crossentropy", optimizer=optimizers.RMSprop(lr=1e-5), metrics=["acc"])
        print(f"trainable weights while fine-tuning: {len(model.trainable_weights)}")
        history = model.fit_generator(train_generator, steps_per_epoch=len(train_generator),
                                      epochs=args.fine_tune_epochs, validation_data=validation_generator,
                                      validation_steps=len(validation_generator))

        # 3. Save the whole model (architecture, weights, optimizer state) and load it back.
        path = args.output or os.path.join(tmp, "transfer_learning.h5")
        model.save(path)
        restored = load_model(path)
        loss, accuracy = restored.evaluate_generator(validation_generator, steps=len(validation_generator))
        print(f"saved to {path}; reloaded model: validation loss {loss:.4f}, accuracy {accuracy:.4f} "
              f"(last epoch: {history.history['val_acc'][-1]:.4f})")


if __name__ == "__main__":
    main()
