"""Keras 2's `keras.utils.layer_utils`: parameter counts, the summary table, graph sources and the weight
conversions Keras 2 offered for models moved between Theano and TensorFlow conventions."""
import numpy as np

_CONV_CLASSES = {"Conv1D", "Conv2D", "Conv3D", "Conv2DTranspose"}


def count_params(weights):
    """The total number of scalars in a list of weights (each distinct weight counted once)."""
    unique = {id(w): w for w in weights}
    return int(sum(int(np.prod(w.shape)) for w in unique.values()))


def print_summary(model, line_length=None, positions=None, print_fn=None):
    """Prints `model.summary()` (Keras 2's `keras.utils.print_summary`)."""
    model.summary(line_length=line_length, positions=positions, print_fn=print_fn)


def get_source_inputs(tensor, layer=None, node_index=None):
    """The `Input` tensors a symbolic tensor is computed from, each once, in the order they are reached.

    Args:
        tensor: a symbolic tensor (anything else is returned unchanged).
        layer / node_index: start from this layer call instead of the one that made `tensor`.
    """
    if not hasattr(tensor, "_keras_history"):
        return tensor
    if layer is None or node_index:
        layer, node_index, _ = tensor._keras_history
    if layer is None or not layer._inbound_nodes:
        return [tensor]
    node = layer._inbound_nodes[node_index or 0]
    if not node.inbound_tensors:  # an InputLayer: the tensor itself is a source
        return [tensor]
    sources = []
    for parent in node.inbound_tensors:
        for source in get_source_inputs(parent):
            if not any(source is known for known in sources):
                sources.append(source)
    return sources


def convert_all_kernels_in_model(model):
    """Flips the spatial axes of every convolution kernel (Theano <-> TensorFlow convention), in place."""
    for layer in model.layers:
        if type(layer).__name__ not in _CONV_CLASSES:
            continue
        for weight in layer.weights:
            if weight.weight_name == "kernel":
                weight.assign(_flip_spatial_axes(weight.numpy()))


def _flip_spatial_axes(kernel):
    # Keras kernels are (*spatial, in, out): every axis but the last two is reversed.
    return np.ascontiguousarray(kernel[tuple([slice(None, None, -1)] * (kernel.ndim - 2)) + (Ellipsis,)])


def convert_dense_weights_data_format(dense, previous_feature_map_shape, target_data_format="channels_first"):
    """Reorders the input rows of a Dense kernel that follows a Flatten when the feature maps before it
    change layout, so the model computes the same function.

    Args:
        dense: the Dense layer after the Flatten.
        previous_feature_map_shape: the shape of one feature map before the Flatten, without the batch axis,
            in `target_data_format` ((c, h, w) for channels_first, (h, w, c) for channels_last).
        target_data_format: the layout the feature maps now have.
    """
    if target_data_format not in ("channels_first", "channels_last"):
        raise ValueError("`target_data_format` must be 'channels_first' or 'channels_last'. Received: "
                         f"target_data_format={target_data_format!r}")
    kernel, *rest = dense.get_weights()
    units = kernel.shape[1]
    shape = tuple(previous_feature_map_shape)
    if target_data_format == "channels_first":
        channels, rows, cols = shape
        rows_of_kernel = kernel.reshape(rows, cols, channels, units).transpose(2, 0, 1, 3)
    else:
        rows, cols, channels = shape
        rows_of_kernel = kernel.reshape(channels, rows, cols, units).transpose(1, 2, 0, 3)
    dense.set_weights([rows_of_kernel.reshape(kernel.shape)] + rest)
