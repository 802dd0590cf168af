"""Merge layers: Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot, and their function
forms (`add([x1, x2])`, ...).

Elementwise merges broadcast as Keras 2 does (a lower-rank input gains length-1 axes right after the batch
axis, so trailing axes align as in NumPy). Their `compute_mask` combines the inputs' Keras masks with a logical
AND (`Concatenate`: along its axis; `Dot`: no mask).
"""
import functools

import torch
import torch.nn.functional as F

from fitgen.engine.base_layer import Layer


class _Merge(Layer):
    """Base of the elementwise merges: `_merge_function(list_of_tensors)`."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def _check_inputs(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or not input_shape or \
                not isinstance(input_shape[0], (list, tuple)):
            raise ValueError(f"A merge layer should be called on a list of inputs. Received: "
                             f"input_shape={input_shape} (not a list of shapes)")
        if len(input_shape) < 1:
            raise ValueError(f"A merge layer should be called on a list of at least 1 input. Got "
                             f"{len(input_shape)} inputs.")

    def build(self, input_shape):
        self._check_inputs(input_shape)
        self.compute_output_shape(input_shape)
        self.built = True

    def call(self, inputs):
        ranks = {t.dim() for t in inputs}
        if len(ranks) > 1:
            top = max(ranks)
            inputs = [t.reshape(t.shape[:1] + (1,) * (top - t.dim()) + t.shape[1:]) for t in inputs]
        return self._merge_function(inputs)

    def compute_mask(self, inputs, mask=None):
        """The inputs' masks combined with a logical AND (None when no input carries one)."""
        masks = _check_masks(self, inputs, mask)
        if masks is None:
            return None
        return functools.reduce(torch.logical_and, masks)

    def compute_output_shape(self, input_shape):
        self._check_inputs(input_shape)
        output = tuple(input_shape[0][1:])
        for shape in input_shape[1:]:
            output = _broadcast_shape(output, tuple(shape[1:]), input_shape)
        batches = {s[0] for s in input_shape if s[0] is not None}
        batch = batches.pop() if len(batches) == 1 else None
        return (batch,) + output


def _check_masks(layer, inputs, mask):
    """The non-None masks of a merge's inputs, or None; ValueError when `mask` does not match `inputs`."""
    if mask is None:
        return None
    if not isinstance(mask, (list, tuple)) or not isinstance(inputs, (list, tuple)) or len(mask) != len(inputs):
        raise ValueError(f"Layer {layer.name}: `mask` should be a list with one entry per input. Received: "
                         f"mask={mask!r} for {len(inputs) if isinstance(inputs, (list, tuple)) else 1} input(s)")
    masks = [m for m in mask if m is not None]
    return masks or None


def _broadcast_shape(shape1, shape2, all_shapes):
    # Keras aligns the trailing axes (NumPy style, batch axis excluded); an unknown size stays unknown.
    if len(shape1) < len(shape2):
        shape1, shape2 = shape2, shape1
    output = list(shape1[:len(shape1) - len(shape2)])
    for a, b in zip(shape1[len(shape1) - len(shape2):], shape2):
        if a is None or b is None:
            output.append(None)
        elif a == 1:
            output.append(b)
        elif b == 1 or a == b:
            output.append(a)
        else:
            raise ValueError(f"Inputs have incompatible shapes. Received shapes {[tuple(s) for s in all_shapes]}")
    return tuple(output)


class Add(_Merge):
    """Sums a list of tensors of the same (or broadcastable) shape."""

    def _merge_function(self, inputs):
        output = inputs[0]
        for x in inputs[1:]:
            output = output + x
        return output


class Subtract(_Merge):
    """`inputs[0] - inputs[1]`, for exactly two tensors."""

    def _check_inputs(self, input_shape):
        super()._check_inputs(input_shape)
        if len(input_shape) != 2:
            raise ValueError(f"A `Subtract` layer should be called on exactly 2 inputs. Received: "
                             f"{len(input_shape)} inputs.")

    def _merge_function(self, inputs):
        if len(inputs) != 2:
            raise ValueError(f"A `Subtract` layer should be called on exactly 2 inputs. Received: {len(inputs)} "
                             f"inputs.")
        return inputs[0] - inputs[1]


class Multiply(_Merge):
    """Elementwise product of a list of tensors."""

    def _merge_function(self, inputs):
        output = inputs[0]
        for x in inputs[1:]:
            output = output * x
        return output


class Average(_Merge):
    """Elementwise mean of a list of tensors."""

    def _merge_function(self, inputs):
        output = inputs[0]
        for x in inputs[1:]:
            output = output + x
        return output / len(inputs)


class Maximum(_Merge):
    """Elementwise maximum of a list of tensors."""

    def _merge_function(self, inputs):
        output = inputs[0]
        for x in inputs[1:]:
            output = torch.maximum(output, x)
        return output


class Minimum(_Merge):
    """Elementwise minimum of a list of tensors."""

    def _merge_function(self, inputs):
        output = inputs[0]
        for x in inputs[1:]:
            output = torch.minimum(output, x)
        return output


class Concatenate(Layer):
    """Concatenates a list of tensors along `axis` (default -1, the features/channels axis)."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis
        self.supports_masking = True

    def build(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) < 1 or \
                not isinstance(input_shape[0], (list, tuple)):
            raise ValueError(f"A `Concatenate` layer should be called on a list of at least 1 input. Received: "
                             f"input_shape={input_shape}")
        self.compute_output_shape(input_shape)
        self.built = True

    def call(self, inputs):
        return torch.cat(inputs, dim=self.axis)

    def compute_mask(self, inputs, mask=None):
        """Each input's mask widened to the input's shape (all True where it has none), concatenated along
        `axis`, then reduced over the last axis; None when no input carries a mask."""
        if _check_masks(self, inputs, mask) is None:
            return None
        filled = []
        for x, m in zip(inputs, mask):
            if m is None:
                m = torch.ones(x.shape, dtype=torch.bool, device=x.device)
            elif m.dim() < x.dim():
                m = m.unsqueeze(-1).expand(x.shape)
            filled.append(m)
        return torch.cat(filled, dim=self.axis).all(dim=-1)

    def compute_output_shape(self, input_shape):
        shapes = [tuple(s) for s in input_shape]
        rank = len(shapes[0])
        if any(len(s) != rank for s in shapes):
            raise ValueError(_concat_error(self.axis, shapes))
        axis = self.axis % rank
        output = list(shapes[0])
        for shape in shapes[1:]:
            for i, (a, b) in enumerate(zip(output, shape)):
                if i == axis:
                    output[i] = None if a is None or b is None else a + b
                elif a is None:
                    output[i] = b
                elif b is not None and a != b:
                    raise ValueError(_concat_error(self.axis, shapes))
        return tuple(output)

    def get_config(self):
        config = super().get_config()
        config["axis"] = self.axis
        return config


def _concat_error(axis, shapes):
    return (f"A `Concatenate` layer requires inputs with matching shapes except for the concatenation axis. "
            f"Received: input_shape={shapes}, axis={axis}")


class Dot(Layer):
    """Dot product of two tensors along `axes`, per sample (`batch_dot`).

    Args:
        axes: int or pair of ints, the axis of each input to contract (the batch axis 0 is never one).
        normalize: L2-normalise both inputs along those axes first, so the result is the cosine similarity.

    Example: inputs `(N, 3, 4)` and `(N, 5, 4)` with `axes=2` give `(N, 3, 5)`; two `(N, D)` give `(N, 1)`.
    """

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(axes, int):
            if not isinstance(axes, (list, tuple)) or len(axes) != 2 or \
                    not all(isinstance(a, int) for a in axes):
                raise ValueError(f"Invalid format for argument `axes`: expected an int or a list/tuple of 2 ints. "
                                 f"Received: axes={axes}")
            axes = tuple(axes)
        self.axes = axes
        self.normalize = normalize
        self.supports_masking = True

    def _axes_for(self, rank1, rank2):
        axes = (self.axes, self.axes) if isinstance(self.axes, int) else self.axes
        return axes[0] % rank1, axes[1] % rank2

    def build(self, input_shape):
        if not isinstance(input_shape[0], (list, tuple)) or len(input_shape) != 2:
            raise ValueError(f"A `Dot` layer should be called on a list of 2 inputs. Received: "
                             f"input_shape={input_shape}")
        self.compute_output_shape(input_shape)
        self.built = True

    def call(self, inputs):
        if len(inputs) != 2:
            raise ValueError(f"A `Dot` layer should be called on exactly 2 inputs. Received: inputs={len(inputs)}")
        x1, x2 = inputs
        a1, a2 = self._axes_for(x1.dim(), x2.dim())
        if self.normalize:
            # tf.nn.l2_normalize: x / sqrt(max(sum(x**2), 1e-12))
            x1 = x1 * torch.rsqrt(torch.clamp(torch.sum(x1 * x1, dim=a1, keepdim=True), min=1e-12))
            x2 = x2 * torch.rsqrt(torch.clamp(torch.sum(x2 * x2, dim=a2, keepdim=True), min=1e-12))
        return batch_dot(x1, x2, (a1, a2))

    def compute_mask(self, inputs, mask=None):
        """A dot product contracts the masked axes away: no output mask, as in Keras."""
        return None

    def compute_output_shape(self, input_shape):
        shape1, shape2 = list(input_shape[0]), list(input_shape[1])
        a1, a2 = self._axes_for(len(shape1), len(shape2))
        if shape1[a1] is not None and shape2[a2] is not None and shape1[a1] != shape2[a2]:
            raise ValueError(f"Incompatible input shapes: axis values {shape1[a1]} (at axis {a1}) != "
                             f"{shape2[a2]} (at axis {a2}). Full input shapes: {tuple(shape1)}, {tuple(shape2)}")
        shape1.pop(a1)
        shape2.pop(a2)
        shape2.pop(0)
        output = shape1 + shape2
        if len(output) == 1:
            output += [1]
        return tuple(output)

    def get_config(self):
        config = super().get_config()
        config.update({"axes": self.axes, "normalize": self.normalize})
        return config


def batch_dot(x, y, axes):
    """Per-sample contraction of axis `axes[0]` of `x` with axis `axes[1]` of `y` (Keras `batch_dot`)."""
    a1, a2 = axes
    x = torch.movedim(x, a1, -1)
    y = torch.movedim(y, a2, 1)
    batch = x.shape[0]
    rest1, rest2 = x.shape[1:-1], y.shape[2:]
    out = torch.bmm(x.reshape(batch, -1, x.shape[-1]), y.reshape(batch, y.shape[1], -1))
    out = out.reshape((batch,) + tuple(rest1) + tuple(rest2))
    return out.unsqueeze(1) if out.dim() == 1 else out


# ------------------------------------------------------------------------------------ function forms
def _functional(layer_cls, doc):
    def merge(inputs, **kwargs):
        return layer_cls(**kwargs)(inputs)
    merge.__name__ = layer_cls.__name__.lower()
    merge.__doc__ = doc
    return merge


add = _functional(Add, "Functional form of `Add`: `add([x1, x2], **layer_kwargs)`.")
subtract = _functional(Subtract, "Functional form of `Subtract`: `subtract([x1, x2], **layer_kwargs)`.")
multiply = _functional(Multiply, "Functional form of `Multiply`: `multiply([x1, x2], **layer_kwargs)`.")
average = _functional(Average, "Functional form of `Average`: `average([x1, x2], **layer_kwargs)`.")
maximum = _functional(Maximum, "Functional form of `Maximum`: `maximum([x1, x2], **layer_kwargs)`.")
minimum = _functional(Minimum, "Functional form of `Minimum`: `minimum([x1, x2], **layer_kwargs)`.")


def concatenate(inputs, axis=-1, **kwargs):
    """Functional form of `Concatenate`: `concatenate([x1, x2], axis=-1, **layer_kwargs)`."""
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs, axes, normalize=False, **kwargs):
    """Functional form of `Dot`: `dot([x1, x2], axes, normalize=False, **layer_kwargs)`."""
    return Dot(axes=axes, normalize=normalize, **kwargs)(inputs)
