"""Normalization layers: `BatchNormalization` and `LayerNormalization` with tf-keras 2.21 numerics.

BatchNormalization's moving variance follows what tf-keras 2.21 actually computes: its fused kernel (used
for 4-D/5-D inputs normalised over axis 1 or the last axis, e.g. after Conv2D) feeds the *unbiased* batch
variance into the moving average, while the non-fused path (2-D/3-D inputs, other axes) feeds the *biased*
one. In the fused case torch's own running-stat update (momentum `1 - keras_momentum`, unbiased variance)
is exactly Keras's, so it runs in the same kernel call as the normalisation.
"""
import torch
import torch.nn.functional as F

from fitgen import constraints, initializers, regularizers
from fitgen.engine.base_layer import Layer

_UNSUPPORTED_BN_OPTIONS = ("renorm", "renorm_clipping", "virtual_batch_size", "adjustment")


def _normalise_axes(axis, rank, layer):
    axes = list(axis) if isinstance(axis, (list, tuple)) else [axis]
    out = []
    for a in axes:
        if not isinstance(a, int) or not -rank <= a < rank:
            raise ValueError(f"Invalid axis {a!r} for layer {layer.name!r}: expected an int in "
                             f"[{-rank}, {rank}) for inputs of rank {rank}.")
        out.append(a % rank)
    if len(set(out)) != len(out):
        raise ValueError(f"Duplicate axis in {axis!r} for layer {layer.name!r}.")
    return sorted(out)


def _pass_mask(inputs, outputs):
    mask = getattr(inputs, "_keras_mask", None)
    if mask is not None:
        outputs._keras_mask = mask
    return outputs


class _Normalization(Layer):
    """What BatchNormalization and LayerNormalization share: gamma/beta weights and their config."""

    def __init__(self, axis, epsilon, center, scale, beta_initializer, gamma_initializer, beta_regularizer,
                 gamma_regularizer, beta_constraint, gamma_constraint, **kwargs):
        super().__init__(**kwargs)
        self.axis = list(axis) if isinstance(axis, (list, tuple)) else axis
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = constraints.get(beta_constraint)
        self.gamma_constraint = constraints.get(gamma_constraint)
        self.supports_masking = True

    def _check_input_shape(self, input_shape):
        input_shape = tuple(input_shape)
        self.axis = _normalise_axes(self.axis, len(input_shape), self)
        for a in self.axis:
            if input_shape[a] is None:
                raise ValueError(f"Axis {a} of the input of layer {self.name!r} should have a defined dimension, "
                                 f"but the layer received an input with shape {input_shape}.")
        return input_shape

    def _add_scale_and_center(self, param_shape):
        # add_weight registers `gamma` / `beta` on the module; a missing one reads as None.
        if self.scale:
            self.add_weight("gamma", param_shape, initializer=self.gamma_initializer,
                            regularizer=self.gamma_regularizer, constraint=self.gamma_constraint)
        else:
            self.gamma = None
        if self.center:
            self.add_weight("beta", param_shape, initializer=self.beta_initializer,
                            regularizer=self.beta_regularizer, constraint=self.beta_constraint)
        else:
            self.beta = None

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def _channels_first_view(self, x):
        """x as torch's (N, C, ...) with the normalised axes as channel axis, and how to undo it.

        Zero-copy in the common cases: axis 1 as is; the last axis of a 4-D/5-D channels_last tensor as a
        channels_last-memory NCHW view (torch's kernels run on it without a copy); the last axis of a 2-D/3-D
        tensor as a (rows, channels) matrix.
        """
        rank, axes = x.dim(), self.axis
        if axes == [1]:
            return x, lambda y: y
        if axes == [rank - 1] and rank in (4, 5):
            perm = (0, rank - 1) + tuple(range(1, rank - 1))
            back = (0,) + tuple(range(2, rank)) + (1,)
            return x.permute(perm), lambda y: y.permute(back)
        tail = list(range(rank - len(axes), rank))
        channels = 1
        for a in axes:
            channels *= x.shape[a]
        moved = x if axes == tail else x.movedim(axes, tail)
        moved_shape = moved.shape
        if axes == tail:
            return moved.reshape(-1, channels), lambda y: y.reshape(moved_shape)
        return moved.reshape(-1, channels), lambda y: y.reshape(moved_shape).movedim(tail, axes)

    def _serialized_weights_config(self):
        return {
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer)}

    def _serialized_regularizers_config(self):
        return {
            "beta_regularizer": regularizers.serialize(self.beta_regularizer),
            "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
            "beta_constraint": constraints.serialize(self.beta_constraint),
            "gamma_constraint": constraints.serialize(self.gamma_constraint)}


class BatchNormalization(_Normalization):
    """Normalizes its inputs per feature with batch statistics in training and moving statistics otherwise.

    As `keras.layers.BatchNormalization` of tf-keras 2.21: weights gamma, beta (trainable), moving_mean,
    moving_variance (non-trainable), in that order. In training the output uses the batch mean and (biased)
    variance and the moving statistics are updated as `moving = moving * momentum + batch * (1 - momentum)`.
    A layer whose `trainable` is False always runs in inference mode (tf-keras 2 behaviour), which is what
    fine-tuning a frozen network needs.

    Args:
        axis: the features axis (or list of axes) to normalise per; -1 (channels_last) by default.
        momentum: momentum of the moving average.
        epsilon: small float added to the variance.
        center: if True, add the offset `beta`.
        scale: if True, multiply by `gamma`.
        beta_initializer, gamma_initializer, moving_mean_initializer, moving_variance_initializer:
            initializers of the weights.
        beta_regularizer, gamma_regularizer, beta_constraint, gamma_constraint: optional.
        fused: None (automatic, as tf-keras), True or False; it only decides, as in tf-keras, whether the
            moving variance sees the unbiased (fused) or biased (non-fused) batch variance.

    Call arguments: `inputs`; `training` (default: the model's phase).
    """

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", moving_mean_initializer="zeros",
                 moving_variance_initializer="ones", beta_regularizer=None, gamma_regularizer=None,
                 beta_constraint=None, gamma_constraint=None, **kwargs):
        fused = kwargs.pop("fused", None)
        kwargs.pop("synchronized", None)  # one process, one device: synchronised statistics are the same
        kwargs.pop("renorm_momentum", None)
        for option in _UNSUPPORTED_BN_OPTIONS:
            if kwargs.pop(option, None):
                raise ValueError(f"BatchNormalization option `{option}` is not supported by fitgen. "
                                 f"Received: {option}=True-like value.")
        super().__init__(axis, epsilon, center, scale, beta_initializer, gamma_initializer, beta_regularizer,
                         gamma_regularizer, beta_constraint, gamma_constraint, **kwargs)
        self.momentum = float(momentum)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.fused = fused
        self._fused = False

    def build(self, input_shape):
        input_shape = self._check_input_shape(input_shape)
        rank = len(input_shape)
        fusable = rank in (4, 5) and len(self.axis) == 1 and self.axis[0] in (1, rank - 1)
        if self.fused and not fusable:
            raise ValueError(f"BatchNormalization with `fused=True` needs a 4D or 5D input normalised over axis 1 "
                             f"or the last axis. Received axis={self.axis} for an input of shape {input_shape}.")
        self._fused = fusable and self.fused is not False
        if len(self.axis) == 1:
            param_shape = (input_shape[self.axis[0]],)
        else:
            param_shape = tuple(input_shape[i] if i in self.axis else 1 for i in range(rank))
        self._add_scale_and_center(param_shape)
        self.add_weight("moving_mean", param_shape, initializer=self.moving_mean_initializer, trainable=False)
        self.add_weight("moving_variance", param_shape, initializer=self.moving_variance_initializer,
                        trainable=False)
        self.built = True

    def call(self, inputs, training=None):
        training = self.training if training is None else bool(training)
        if not self.trainable:
            training = False
        x, restore = self._channels_first_view(inputs)
        gamma = None if self.gamma is None else self.gamma.reshape(-1)
        beta = None if self.beta is None else self.beta.reshape(-1)
        moving_mean, moving_variance = self.moving_mean.reshape(-1), self.moving_variance.reshape(-1)
        if not training:
            out = F.batch_norm(x, moving_mean, moving_variance, gamma, beta, False, 0.0, self.epsilon)
        elif x.numel() < 2 * x.shape[1]:
            out = self._train_tiny_batch(x, gamma, beta, moving_mean, moving_variance)
        elif self._fused:
            out = F.batch_norm(x, moving_mean, moving_variance, gamma, beta, True, 1.0 - self.momentum,
                               self.epsilon)
        else:
            # torch's kernel reports the batch mean and the unbiased variance through running stats of
            # momentum 1; the biased variance Keras averages is that times (n - 1) / n.
            batch_mean = torch.zeros_like(moving_mean)
            batch_variance = torch.zeros_like(moving_variance)
            out = F.batch_norm(x, batch_mean, batch_variance, gamma, beta, True, 1.0, self.epsilon)
            n = x.numel() // x.shape[1]
            self._update_moving(moving_mean, moving_variance, batch_mean, batch_variance * ((n - 1) / n))
        return _pass_mask(inputs, restore(out))

    def _train_tiny_batch(self, x, gamma, beta, moving_mean, moving_variance):
        # torch refuses batch statistics of one value per channel; Keras gives variance 0 there.
        shape = x.shape
        x = x.movedim(1, -1).reshape(-1, shape[1])
        variance, mean = torch.var_mean(x, dim=0, correction=0)
        out = (x - mean) * torch.rsqrt(variance + self.epsilon)
        if gamma is not None:
            out = out * gamma
        if beta is not None:
            out = out + beta
        self._update_moving(moving_mean, moving_variance, mean.detach(), variance.detach())
        return out.reshape(shape[:1] + shape[2:] + shape[1:2]).movedim(-1, 1)

    def _update_moving(self, moving_mean, moving_variance, mean, variance):
        decay = 1.0 - self.momentum
        with torch.no_grad():
            moving_mean.sub_((moving_mean - mean) * decay)
            moving_variance.sub_((moving_variance - variance) * decay)

    def get_config(self):
        config = super().get_config()
        config.update({"axis": self.axis, "momentum": self.momentum, "epsilon": self.epsilon,
                       "center": self.center, "scale": self.scale})
        config.update(self._serialized_weights_config())
        config.update({
            "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
            "moving_variance_initializer": initializers.serialize(self.moving_variance_initializer)})
        config.update(self._serialized_regularizers_config())
        return config


class LayerNormalization(_Normalization):
    """Normalizes each sample over `axis` (the features), as `keras.layers.LayerNormalization` (tf-keras 2.21).

    `y = (x - mean) / sqrt(var + epsilon) * gamma + beta`, mean and (biased) variance taken per sample over
    `axis`. Weights gamma then beta, shaped like the normalised axes.

    Args:
        axis: int or list of ints, the axes to normalise over (default -1).
        epsilon: small float added to the variance (default 1e-3).
        center, scale: whether to use beta / gamma.
        beta_initializer, gamma_initializer, beta_regularizer, gamma_regularizer, beta_constraint,
            gamma_constraint: for the weights.
    """

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, **kwargs):
        super().__init__(axis, epsilon, center, scale, beta_initializer, gamma_initializer, beta_regularizer,
                         gamma_regularizer, beta_constraint, gamma_constraint, **kwargs)

    def build(self, input_shape):
        input_shape = self._check_input_shape(input_shape)
        self._add_scale_and_center(tuple(input_shape[a] for a in self.axis))
        self.built = True

    def call(self, inputs):
        rank = inputs.dim()
        trailing = self.axis == list(range(rank - len(self.axis), rank))
        if trailing:
            normalized_shape = tuple(inputs.shape[a] for a in self.axis)
            out = F.layer_norm(inputs, normalized_shape, self.gamma, self.beta, self.epsilon)
            return _pass_mask(inputs, out)
        variance, mean = torch.var_mean(inputs, dim=self.axis, keepdim=True, correction=0)
        out = (inputs - mean) * torch.rsqrt(variance + self.epsilon)
        broadcast = [inputs.shape[i] if i in self.axis else 1 for i in range(rank)]
        if self.gamma is not None:
            out = out * self.gamma.reshape(broadcast)
        if self.beta is not None:
            out = out + self.beta.reshape(broadcast)
        return _pass_mask(inputs, out)

    def get_config(self):
        config = super().get_config()
        config.update({"axis": self.axis, "epsilon": self.epsilon, "center": self.center, "scale": self.scale})
        config.update(self._serialized_weights_config())
        config.update(self._serialized_regularizers_config())
        return config
