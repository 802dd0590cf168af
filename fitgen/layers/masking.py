"""`Masking`: marks timesteps whose features all equal `mask_value` as padding for later layers."""
import torch

from fitgen.engine.base_layer import Layer


class Masking(Layer):
    """Masks timesteps in which every feature equals `mask_value`, as `keras.layers.Masking`.

    The output is the input with masked timesteps zeroed, and carries the boolean mask (batch, timesteps)
    as `output._keras_mask`; recurrent layers then skip those steps.

    Args:
        mask_value: the padding value (default 0.0).
    """

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.mask_value = mask_value
        self.supports_masking = True

    def call(self, inputs):
        keep = torch.any(inputs != self.mask_value, dim=-1, keepdim=True)
        return inputs * keep.to(inputs.dtype)

    def compute_mask(self, inputs, mask=None):
        """(batch, timesteps): True where some feature differs from `mask_value` (the output's `_keras_mask`)."""
        return torch.any(inputs != self.mask_value, dim=-1)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config["mask_value"] = self.mask_value
        return config
