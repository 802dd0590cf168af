"""Tiny image folders for the preprocessing tests: every picture says which class it belongs to.

Each image is a flat colour that encodes its class (`class_colour(i)`) plus small noise, so a test can
check from the pixels alone that a batch's labels belong to its images. Import with
`from helpers.images import make_image_folder` (tests/ is on sys.path through its conftest).
"""
import os

import numpy as np


def class_colour(index):
    """A distinct RGB colour for class `index` (channel means far apart, survives JPEG)."""
    palette = [(230, 30, 30), (30, 230, 30), (30, 30, 230), (230, 230, 30), (30, 230, 230), (230, 30, 230)]
    return np.array(palette[index % len(palette)], dtype=np.float32)


def class_of_pixels(image):
    """The class index whose colour is nearest to the mean colour of an (h, w, 3) image in 0-255."""
    mean = np.asarray(image, dtype=np.float32).reshape(-1, 3).mean(axis=0)
    return int(np.argmin([np.abs(mean - class_colour(i)).sum() for i in range(6)]))


def write_image(path, colour, size=(12, 10), seed=0, mode="RGB"):
    """Writes a `size` (height, width) picture of `colour` plus noise; the format follows the extension."""
    from PIL import Image
    rng = np.random.RandomState(seed)
    pixels = np.clip(colour + rng.uniform(-10, 10, size + (3,)), 0, 255).astype(np.uint8)
    img = Image.fromarray(pixels, "RGB")
    if mode != "RGB":
        img = img.convert(mode)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    img.save(path)
    return path


def make_image_folder(root, counts=None, size=(12, 10), ext="png", nested_every=0):
    """Builds `root/<class>/<class>_<i>.<ext>` for `counts` ({class name: number of images}).

    Class `k` in sorted-name order gets colour `class_colour(k)`. With `nested_every=n`, every n-th image
    goes into a `deeper/` subfolder, which Keras lists after the class folder's own files.
    Returns `root`.
    """
    counts = counts or {"cats": 5, "dogs": 4}
    for k, name in enumerate(sorted(counts)):
        for i in range(counts[name]):
            sub = "deeper" if nested_every and i % nested_every == 0 else ""
            path = os.path.join(root, name, sub, f"{name}_{i:02d}.{ext}")
            write_image(path, class_colour(k), size=size, seed=100 * k + i)
    return str(root)


def write_corrupt_jpeg(path, kind="truncated"):
    """A file named like a JPEG that cannot be decoded: 'truncated' (half a real JPEG) or 'garbage'."""
    import io

    from PIL import Image
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if kind == "garbage":
        data = b"this is not an image" * 10
    else:
        buffer = io.BytesIO()
        Image.fromarray(np.full((32, 32, 3), 128, np.uint8)).save(buffer, format="JPEG")
        data = buffer.getvalue()[: len(buffer.getvalue()) // 2]
    with open(path, "wb") as f:
        f.write(data)
    return path
