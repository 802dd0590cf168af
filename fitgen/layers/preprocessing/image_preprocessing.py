"""`Rescaling`: `inputs * scale + offset`, computed in the layer's float type (tf-keras 2.21)."""
import torch

from fitgen.backend import common as backend
from fitgen.engine.base_layer import Layer


class Rescaling(Layer):
    """Multiplies its inputs by `scale` and adds `offset`, e.g. `Rescaling(1 / 255)` maps [0, 255] to [0, 1].

    Integer inputs (e.g. uint8 images) are cast to the layer's dtype (float32) first.

    Args:
        scale: a float, or a list of floats that broadcasts against the last axes of the inputs
            (e.g. one factor per channel).
        offset: a float (or list of floats, broadcast the same way), added after the scaling.
    """

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        for name, value in (("scale", scale), ("offset", offset)):
            try:
                torch.as_tensor(value, dtype=torch.float64)
            except (TypeError, ValueError, RuntimeError):
                raise TypeError(f"Rescaling's `{name}` must be a number or a (nested) list of numbers. Received: "
                                f"{name}={value!r}") from None
        self.scale = scale
        self.offset = offset
        self._constants = {}

    def _constant(self, value, like):
        key = (id(value), like.dtype, like.device)
        tensor = self._constants.get(key)
        if tensor is None:
            tensor = self._constants[key] = torch.as_tensor(value, dtype=like.dtype, device=like.device)
        return tensor

    def call(self, inputs):
        x = inputs.to(backend.torch_dtype(self.dtype))
        return x * self._constant(self.scale, x) + self._constant(self.offset, x)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"scale": self.scale, "offset": self.offset})
        return config
