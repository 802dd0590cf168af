"""Keras 2's `keras.preprocessing` namespace: `image` (ImageDataGenerator and friends), `sequence`, `text`.

Submodules load on first attribute access so that `import fitgen` never pays for them (or for Pillow).
"""
import importlib

_SUBMODULES = ("image", "sequence", "text")


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
