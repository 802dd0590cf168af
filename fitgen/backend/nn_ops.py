"""Keras 2 backend neural-network functions: activations, crossentropies, normalisation, dropout, bias_add, CTC.

Crossentropies follow tf-keras 2.21's backend numerics: probabilities are clipped to `[epsilon, 1 - epsilon]`
(`binary_crossentropy` adds `epsilon` again inside its logs), and an output that carries `_keras_logits` (made
by `fitgen.activations.softmax`/`sigmoid`) is computed from those logits. `K.softmax` and `K.sigmoid` are the
plain functions, as `tf.nn.softmax` / `tf.sigmoid` under tf-keras's backend.
"""
import itertools
import warnings

import torch
import torch.nn.functional as F

from fitgen.backend import common, ctc_beam
from fitgen.backend.conversion import axis_arg, data_format_arg, floating, pair, to_tensor
from fitgen.backend.dispatch import keras_op
from fitgen.backend.random_ops import dropout_mask


# ---------------------------------------------------------------------------------------------- activations
@keras_op("K.relu")
def relu(x, alpha=0.0, max_value=None, threshold=0.0):
    """`x` for `threshold <= x < max_value`, `max_value` above, `alpha * (x - threshold)` below the threshold."""
    x = floating(x)
    if alpha != 0.0 and max_value is None and threshold == 0:
        return F.leaky_relu(x, negative_slope=float(alpha))
    negative = torch.relu(threshold - x) if alpha != 0.0 else None
    out = x * (x > threshold).to(x.dtype) if threshold != 0 else torch.relu(x)
    if max_value is not None:
        out = torch.clamp(out, 0.0, float(max_value))
    return out - alpha * negative if negative is not None else out


@keras_op("K.elu")
def elu(x, alpha=1.0):
    """`x` for `x > 0`, `alpha * (exp(x) - 1)` otherwise."""
    return F.elu(floating(x), alpha=float(alpha))


@keras_op("K.softmax")
def softmax(x, axis=-1):
    """Softmax along `axis`."""
    x = floating(x)
    return torch.softmax(x, dim=axis_arg(axis, x.dim()))


@keras_op("K.softplus")
def softplus(x):
    """`log(exp(x) + 1)`."""
    return F.softplus(floating(x))


@keras_op("K.softsign")
def softsign(x):
    """`x / (abs(x) + 1)`."""
    return F.softsign(floating(x))


@keras_op("K.sigmoid")
def sigmoid(x):
    """`1 / (1 + exp(-x))`."""
    return torch.sigmoid(floating(x))


@keras_op("K.hard_sigmoid")
def hard_sigmoid(x):
    """`clip(0.2 * x + 0.5, 0, 1)` (Keras 2's piecewise-linear sigmoid)."""
    return torch.clamp(floating(x) * 0.2 + 0.5, 0.0, 1.0)


@keras_op("K.tanh")
def tanh(x):
    """Hyperbolic tangent."""
    return torch.tanh(floating(x))


# ------------------------------------------------------------------------------------------ crossentropies
def logits_of(output, from_logits, activation, function, stacklevel=4):
    """The logits behind `output` when a softmax/sigmoid activation made it (its `_keras_logits`), as tf-keras
    reads the op that produced a tensor; otherwise `output` and `from_logits` unchanged. The losses share this."""
    logits = getattr(output, "_keras_logits", None)
    if logits is None:
        return output, from_logits
    if logits.dtype != output.dtype and logits.is_floating_point():
        logits = logits.to(output.dtype)  # half-precision logits of a float32 softmax (mixed precision)
    if from_logits:
        warnings.warn(f"`{function}` received `from_logits=True`, but the `output` argument was produced by a "
                      f"{activation} activation and thus does not represent logits. Was this intended?",
                      stacklevel=stacklevel)
    return logits, True


@keras_op("K.binary_crossentropy")
def binary_crossentropy(target, output, from_logits=False):
    """Elementwise binary crossentropy between `target` and `output` (probabilities, or logits)."""
    output = floating(output)
    target = to_tensor(target, like=output).to(output.dtype)
    output, from_logits = logits_of(output, from_logits, "Sigmoid", "binary_crossentropy")
    if from_logits:
        return F.binary_cross_entropy_with_logits(output, target, reduction="none")
    eps = common.epsilon()
    output = torch.clamp(output, eps, 1.0 - eps)
    return -(target * torch.log(output + eps) + (1.0 - target) * torch.log(1.0 - output + eps))


@keras_op("K.categorical_crossentropy")
def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Crossentropy of one-hot (or soft) `target` and `output` along `axis`; probabilities are renormalised."""
    output = floating(output)
    target = to_tensor(target, like=output).to(output.dtype)
    axis = axis_arg(axis, output.dim())
    output, from_logits = logits_of(output, from_logits, "Softmax", "categorical_crossentropy")
    if from_logits:
        return -torch.sum(target * torch.log_softmax(output, dim=axis), dim=axis)
    output = output / torch.sum(output, dim=axis, keepdim=True)
    eps = common.epsilon()
    return -torch.sum(target * torch.log(torch.clamp(output, eps, 1.0 - eps)), dim=axis)


@keras_op("K.sparse_categorical_crossentropy")
def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1, ignore_class=None):
    """Crossentropy of integer labels `target` and `output` along `axis`.

    Labels of the output's rank (e.g. `(batch, 1)`) are flattened first; the result has the output's shape
    without `axis`. With `ignore_class`, those labels give 0 and the result carries a `_keras_mask`.
    """
    output = floating(output)
    output, from_logits = logits_of(output, from_logits, "Softmax", "sparse_categorical_crossentropy")
    if not from_logits:
        eps = common.epsilon()
        output = torch.log(torch.clamp(output, eps, 1.0 - eps))
    rank = output.dim()
    axis = axis_arg(axis, rank)
    if axis != rank - 1:
        output = output.permute(tuple(itertools.chain(range(axis), range(axis + 1, rank), [axis])))
    result_shape = output.shape[:-1]
    target = to_tensor(target).to(output.device).long().reshape(-1)
    log_probs = torch.log_softmax(output.reshape(-1, output.shape[-1]), dim=-1)
    if target.numel() != log_probs.shape[0]:
        raise ValueError(f"sparse_categorical_crossentropy: {target.numel()} labels for {log_probs.shape[0]} "
                         f"predictions (output shape {tuple(output.shape)}).")
    valid = None
    if ignore_class is not None:
        valid = target != int(ignore_class)
        target = torch.where(valid, target, torch.zeros_like(target))
    losses = -log_probs.gather(1, target.unsqueeze(1)).squeeze(1)
    if valid is not None:
        losses = (losses * valid.to(losses.dtype)).reshape(result_shape)
        losses._keras_mask = valid.reshape(result_shape)
        return losses
    return losses.reshape(result_shape)


# ------------------------------------------------------------------------------------------- other nn ops
@keras_op("K.l2_normalize")
def l2_normalize(x, axis=None):
    """`x / sqrt(max(sum(x ** 2, axis), 1e-12))` (all axes when `axis` is None)."""
    x = floating(x)
    axis = axis_arg(axis, x.dim())
    dims = tuple(range(x.dim())) if axis is None else axis
    squares = torch.sum(torch.square(x), dim=dims, keepdim=True)
    return x * torch.rsqrt(torch.clamp(squares, min=1e-12))


@keras_op("K.in_top_k")
def in_top_k(predictions, targets, k):
    """Whether each target's prediction is among the `k` largest of its row (bool, shape `(batch,)`).

    Ties at the boundary count as in, and a row with a non-finite score or an out-of-range target gives
    False, as `tf.math.in_top_k`.
    """
    predictions = floating(predictions)
    targets = to_tensor(targets).to(predictions.device).long().reshape(-1)
    valid = (targets >= 0) & (targets < predictions.shape[-1])
    scores = predictions.gather(1, torch.where(valid, targets, torch.zeros_like(targets)).unsqueeze(1))
    rank = (predictions > scores).sum(1)
    return (rank < int(k)) & valid & torch.isfinite(predictions).all(1)


@keras_op("K.dropout")
def dropout(x, level, noise_shape=None, seed=None):
    """Zeroes each entry with probability `level` and scales the rest by `1 / (1 - level)` (always, as Keras).

    Raises:
        ValueError: if `level` is not in `[0, 1)`.
    """
    level = float(level)
    if not 0.0 <= level < 1.0:
        raise ValueError(f"Dropout level must be in interval [0, 1[. Received: level={level}")
    x = floating(x)
    shape = tuple(x.shape) if noise_shape is None else tuple(
        x.shape[i] if d is None else int(d) for i, d in enumerate(noise_shape))
    if seed is None:
        return x * dropout_mask(shape, level, x.dtype, x.device)
    generator = torch.Generator().manual_seed(int(seed))
    return x * dropout_mask(shape, level, x.dtype, generator=generator).to(x.device)


@keras_op("K.bias_add")
def bias_add(x, bias, data_format=None):
    """Adds `bias` along the channel axis: a `(channels,)` bias, or one of `x.shape[1:]` given channels-last.

    Raises:
        ValueError: for a bias of another rank.
    """
    x, bias = pair(to_tensor(x), bias)
    bias = to_tensor(bias, like=x)
    data_format = data_format_arg(data_format)
    if bias.dim() not in (1, x.dim() - 1):
        raise ValueError(f"Unexpected bias dimensions {bias.dim()}, expected 1 or {x.dim() - 1} for an input of "
                         f"shape {tuple(x.shape)}.")
    if data_format == "channels_first" and x.dim() > 2:
        if bias.dim() == 1:
            return x + bias.reshape((1, -1) + (1,) * (x.dim() - 2))
        return x + bias.movedim(-1, 0).unsqueeze(0)
    return x + bias


def _broadcast(param, x, reduction_axes):
    if param is None:
        return None
    param = to_tensor(param, like=x)
    shape = [1 if i in reduction_axes else x.shape[i] for i in range(x.dim())]
    return param.reshape(shape) if param.dim() != x.dim() else param


@keras_op("K.normalize_batch_in_training")
def normalize_batch_in_training(x, gamma, beta, reduction_axes, epsilon=1e-3):
    """Normalises `x` with its mean and variance over `reduction_axes`, then scales by `gamma`, shifts by `beta`.

    Returns:
        `(normalized, mean, variance)`: mean and variance have the shape of the axes kept. `x` is normalised
        with the population variance; the variance returned is the population one too, except for a 4-D
        input reduced over `[0, 1, 2]` or `[0, 2, 3]`, where Keras's fused kernel returns the unbiased
        (`n / (n - 1)`) variance, and so does fitgen.
    """
    x = floating(x)
    axes = tuple(sorted(axis_arg(tuple(reduction_axes), x.dim())))
    mean = torch.mean(x, dim=axes, keepdim=True)
    variance = torch.var(x, dim=axes, keepdim=True, correction=0)
    normed = _normalize(x, mean, variance, _broadcast(beta, x, axes), _broadcast(gamma, x, axes), epsilon)
    if x.dim() == 4 and axes in ((0, 1, 2), (0, 2, 3)):
        count = x.numel() // variance.numel()
        variance = variance * (count / max(count - 1, 1))
    return normed, mean.squeeze(axes), variance.squeeze(axes)


def _normalize(x, mean, variance, beta, gamma, epsilon):
    inv = torch.rsqrt(variance + epsilon)
    if gamma is not None:
        inv = inv * gamma
    return x * inv + ((beta if beta is not None else 0.0) - mean * inv)


@keras_op("K.batch_normalization")
def batch_normalization(x, mean, var, beta, gamma, axis=-1, epsilon=1e-3):
    """`(x - mean) / sqrt(var + epsilon) * gamma + beta`; 1-D parameters apply along `axis`."""
    x = floating(x)
    axis = axis_arg(axis, x.dim())
    kept = [a for a in range(x.dim()) if a != axis]

    def shaped(param):
        if param is None:
            return None
        param = to_tensor(param, like=x)
        return _broadcast(param, x, kept) if param.dim() == 1 and x.dim() > 1 else param

    return _normalize(x, shaped(mean), shaped(var), shaped(beta), shaped(gamma), epsilon)


@keras_op("K.moments")
def moments(x, axes, shift=None, keepdims=False):
    """`(mean, variance)` of `x` over `axes` (population variance)."""
    x = floating(x)
    axes = axis_arg(tuple(axes) if isinstance(axes, (list, tuple)) else axes, x.dim())
    return (torch.mean(x, dim=axes, keepdim=keepdims), torch.var(x, dim=axes, keepdim=keepdims, correction=0))


# -------------------------------------------------------------------------------------------------- CTC
@keras_op("K.ctc_batch_cost")
def ctc_batch_cost(y_true, y_pred, input_length, label_length):
    """CTC loss per sample, `(batch, 1)`: `y_pred` `(batch, steps, classes)` softmax output, the last class blank.

    Args:
        y_true: `(batch, max_label_length)` integer labels.
        y_pred: `(batch, steps, num_classes)` probabilities.
        input_length: `(batch, 1)` steps used per sample.
        label_length: `(batch, 1)` labels used per sample.
    """
    y_pred = floating(y_pred)
    log_probs = torch.log_softmax(torch.log(y_pred.transpose(0, 1) + common.epsilon()), dim=-1)
    device = y_pred.device
    targets = to_tensor(y_true).to(device).long()
    input_lengths = to_tensor(input_length).to(device).long().reshape(-1)
    target_lengths = to_tensor(label_length).to(device).long().reshape(-1)
    loss = F.ctc_loss(log_probs.float(), targets, input_lengths, target_lengths, blank=y_pred.shape[-1] - 1,
                      reduction="none")
    return loss.to(y_pred.dtype).unsqueeze(1)


@keras_op("K.ctc_decode")
def ctc_decode(y_pred, input_length, greedy=True, beam_width=100, top_paths=1):
    """Decodes CTC output: `(decoded, log_prob)` as tf-keras returns them.

    Args:
        y_pred: `(batch, steps, classes)` probabilities (softmax output), the last class the blank.
        input_length: `(batch,)` or `(batch, 1)` steps used per sample.
        greedy: True takes the best class at every step (repeats merged, blanks removed); False runs a beam
            search (TensorFlow's `ctc_beam_search_decoder`, fitgen.backend.ctc_beam).
        beam_width, top_paths: the beam search's width and how many paths it returns.

    Returns:
        `decoded`: a list of `top_paths` (1 when greedy) int64 tensors `(batch, steps)` padded with -1;
        `log_prob`: `(batch, top_paths)`; greedy: the negative sum over steps of the best log-probability,
        beam search: each path's log-probability.

    Raises:
        ValueError: for `top_paths` larger than `beam_width`, or fewer sequences in the beam than `top_paths`.
    """
    y_pred = floating(y_pred)
    log_probs = torch.log(y_pred + common.epsilon())
    lengths = to_tensor(input_length).reshape(-1).tolist()
    if greedy:
        paths = [_greedy_path(log_probs[row, :int(lengths[row])]) for row in range(y_pred.shape[0])]
        paths = [[path] for path in paths]
        top_paths = 1
    else:
        if not isinstance(top_paths, int) or not 0 < top_paths <= beam_width:
            raise ValueError(f"ctc_decode: `top_paths` must be an integer in [1, beam_width={beam_width}]. "
                             f"Received: top_paths={top_paths!r}")
        inputs = log_probs.detach().float().cpu().numpy()
        paths = [ctc_beam.beam_search(inputs[row, :int(lengths[row])], beam_width, top_paths)
                 for row in range(y_pred.shape[0])]
    decoded = []
    for k in range(top_paths):
        dense = torch.full(tuple(y_pred.shape[:2]), -1, dtype=torch.int64, device=y_pred.device)
        for row, row_paths in enumerate(paths):
            labels = row_paths[k][0]
            if labels:
                dense[row, :len(labels)] = torch.tensor(labels, device=y_pred.device)
        decoded.append(dense)
    scores = torch.tensor([[score for _, score in row_paths] for row_paths in paths], dtype=y_pred.dtype,
                          device=y_pred.device)
    return decoded, scores


def _greedy_path(log_probs):
    """(labels, score) of TensorFlow's greedy decoder: best class per step, repeats merged, blanks removed."""
    best, labels = log_probs.max(dim=-1)
    path = labels.tolist()
    blank = log_probs.shape[-1] - 1
    return ([c for i, c in enumerate(path) if c != blank and (i == 0 or c != path[i - 1])],
            float(-best.sum()))
