"""How a layer's weights look from Keras: `LayerWeight` (name, Keras shape, trainability, regularizer,
constraint) over a torch tensor kept in whatever `Layout` the torch kernel wants.

Conv2D, for example, keeps its kernel as (out, in, kh, kw) for torch while `get_weights()`, HDF5 files and
optimizer slots see Keras's (kh, kw, in, out) through a `PermutedLayout`, with no per-step conversion.
"""
import numpy as np
import torch


class Layout:
    """How one weight's torch tensor maps to Keras's layout. The identity by default."""

    def to_keras(self, tensor):
        return tensor

    def from_keras(self, tensor):
        return tensor

    def torch_shape(self, keras_shape):
        return tuple(keras_shape)


class PermutedLayout(Layout):
    """torch tensor = Keras tensor permuted by `perm` (e.g. Conv2D: (kh, kw, in, out) -> (out, in, kh, kw))."""

    def __init__(self, perm):
        self.perm = tuple(perm)
        self.inverse = tuple(int(i) for i in np.argsort(perm))

    def to_keras(self, tensor):
        return tensor.permute(self.inverse)

    def from_keras(self, tensor):
        return tensor.permute(self.perm).contiguous()

    def torch_shape(self, keras_shape):
        return tuple(keras_shape[i] for i in self.perm)


class LayerWeight:
    """One Keras weight: a name, a torch tensor, its layout, and its regularizer and constraint.

    Acts like a Keras 2 variable for user code: `.shape` is Keras's shape, `.numpy()` gives the value in Keras
    layout, `K.get_value(w)` / `K.set_value(w, value)` work, and `.name` is `layer/kernel:0`.
    """

    def __init__(self, layer, name, tensor, trainable, layout, regularizer=None, constraint=None):
        self.layer = layer
        self.weight_name = name
        self.tensor = tensor
        self._trainable = trainable
        self.layout = layout
        self.regularizer = regularizer
        self.constraint = constraint

    @property
    def name(self):
        return f"{self.path}:0"

    @property
    def path(self):
        """`dense/kernel`: the name optimizers and files use (tf-keras writes `dense/kernel:0`)."""
        return f"{self.layer.name}/{self.weight_name}"

    @property
    def trainable(self):
        return self._trainable and self.layer.trainable

    @property
    def shape(self):
        return tuple(self.to_keras(self.tensor).shape)

    @property
    def dtype(self):
        return str(self.tensor.dtype).replace("torch.", "")

    def to_keras(self, tensor):
        return self.layout.to_keras(tensor)

    def from_keras(self, tensor):
        return self.layout.from_keras(tensor)

    def keras_view(self):
        return self.to_keras(self.tensor)

    def numpy(self):
        return self.to_keras(self.tensor.detach()).cpu().numpy().copy()

    def assign(self, value):
        value = value.numpy() if hasattr(value, "numpy") and not isinstance(value, torch.Tensor) else value
        value = torch.as_tensor(np.asarray(value.detach().cpu() if isinstance(value, torch.Tensor) else value))
        if tuple(value.shape) != self.shape:
            raise ValueError(f"Weight {self.name} has shape {self.shape}; cannot assign a value of shape "
                             f"{tuple(value.shape)}.")
        with torch.no_grad():
            self.tensor.copy_(self.from_keras(value.to(self.tensor.dtype)))

    def __array__(self, dtype=None, copy=None):
        return self.numpy().astype(dtype) if dtype else self.numpy()

    def __repr__(self):
        return f"<LayerWeight {self.name} shape={self.shape} trainable={self.trainable}>"
