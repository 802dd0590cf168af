"""`Embedding`: turns integer indices into dense vectors, as Keras 2's `keras.layers.Embedding`."""
import operator

import torch
import torch.nn.functional as F

from fitgen import constraints, initializers, regularizers
from fitgen.engine import call_context
from fitgen.engine.base_layer import Layer


def _positive_int(value):
    try:
        return not isinstance(value, bool) and operator.index(value) > 0
    except TypeError:
        return False


class Embedding(Layer):
    """Looks up a dense vector of size `output_dim` for each index in `[0, input_dim)`.

    As tf-keras 2.21: one weight `embeddings` of shape (input_dim, output_dim); float inputs are truncated
    to integers; as the first layer of a Sequential model it declares the input shape `(input_length,)`
    (`(None,)` without `input_length`).

    Args:
        input_dim: size of the vocabulary (largest index + 1).
        output_dim: dimension of the dense embedding.
        embeddings_initializer: initializer of the embeddings matrix (default 'uniform', U(-0.05, 0.05)).
        embeddings_regularizer, activity_regularizer, embeddings_constraint: optional.
        mask_zero: if True, index 0 is padding: the output carries a mask (`output._keras_mask`, False
            where the input is 0) that later layers such as LSTM respect. Index 0 then cannot be a word.
        input_length: length of the input sequences when constant.

    Input shape: (batch, ...) integers. Output shape: (batch, ..., output_dim).

    Raises:
        ValueError: at call time, for an index outside `[0, input_dim)`.
    """

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", embeddings_regularizer=None,
                 activity_regularizer=None, embeddings_constraint=None, mask_zero=False, input_length=None,
                 **kwargs):
        if kwargs.pop("sparse", False):
            raise ValueError("fitgen's Embedding does not produce sparse gradients; received sparse=True.")
        if "input_shape" not in kwargs and "batch_input_shape" not in kwargs:
            kwargs["input_shape"] = (input_length,) if input_length else (None,)
        if not (_positive_int(input_dim) and _positive_int(output_dim)):
            raise ValueError(f"Both `input_dim` and `output_dim` should be positive integers. Received "
                             f"input_dim={input_dim!r} and output_dim={output_dim!r}")
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.input_dim = int(input_dim)
        self.output_dim = int(output_dim)
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self.embeddings_constraint = constraints.get(embeddings_constraint)
        self.mask_zero = bool(mask_zero)
        self.supports_masking = self.mask_zero
        self.input_length = input_length

    def build(self, input_shape=None):
        self.add_weight("embeddings", (self.input_dim, self.output_dim), initializer=self.embeddings_initializer,
                        regularizer=self.embeddings_regularizer, constraint=self.embeddings_constraint)
        self.built = True

    def call(self, inputs):
        indices = torch.as_tensor(inputs)
        if indices.is_floating_point() or indices.dtype == torch.bool:
            indices = indices.to(torch.int64)
        # The range check reads two numbers back to the host; a traced step (jit_compile) cannot, and its
        # compiled gather checks the bounds itself.
        if indices.numel() and not call_context.is_tracing():
            low, high = torch.aminmax(indices)
            if int(low) < 0 or int(high) >= self.input_dim:
                bad = int(low) if int(low) < 0 else int(high)
                raise ValueError(f"Embedding layer {self.name!r} received index {bad}, outside the valid range "
                                 f"[0, {self.input_dim}) given by input_dim={self.input_dim}.")
        return F.embedding(indices, self.embeddings)

    def compute_mask(self, inputs, mask=None):
        """The boolean mask `inputs != 0` when `mask_zero` (the output's `_keras_mask`), else None."""
        return torch.as_tensor(inputs) != 0 if self.mask_zero else None

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if self.input_length is None:
            return input_shape + (self.output_dim,)
        lengths = list(self.input_length) if isinstance(self.input_length, (list, tuple)) else [self.input_length]
        if len(lengths) != len(input_shape) - 1:
            raise ValueError(f'"input_length" is {self.input_length}, but received input has shape {input_shape}')
        for i, (given, actual) in enumerate(zip(lengths, input_shape[1:])):
            if given is not None and actual is not None and given != actual:
                raise ValueError(f'"input_length" is {self.input_length}, but received input has shape '
                                 f"{input_shape}")
            if given is None:
                lengths[i] = actual
        return (input_shape[0],) + tuple(lengths) + (self.output_dim,)

    def get_config(self):
        config = super().get_config()
        config.update({
            "input_dim": self.input_dim, "output_dim": self.output_dim,
            "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
            "embeddings_regularizer": regularizers.serialize(self.embeddings_regularizer),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            "embeddings_constraint": constraints.serialize(self.embeddings_constraint),
            "mask_zero": self.mask_zero, "input_length": self.input_length})
        return config
