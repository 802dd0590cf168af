"""fitgen: the Keras 2 training API rebuilt on PyTorch."""
__version__ = "0.1.0"
