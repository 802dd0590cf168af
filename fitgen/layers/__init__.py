"""Keras 2 layers (being assembled)."""
