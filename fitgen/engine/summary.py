"""`model.summary()` in tf-keras 2.x's table format (column widths, wrapping, totals with memory sizes)."""
import numpy as np

from fitgen.engine.input_layer import InputLayer
from fitgen.engine.keras_tensor import flatten
from fitgen.engine.sequential import Sequential


def _readable_size(num_bytes):
    for unit in ("Byte", "KB", "MB", "GB", "TB"):
        if num_bytes / 1024 < 1:
            return f"{num_bytes:.2f} {unit}"
        num_bytes /= 1024
    return f"{num_bytes:.2f} PB"


def _print_row(fields, positions, print_fn):
    left = [str(f) for f in fields]
    if not any(left):
        print_fn(" " * positions[-1])
        return
    while any(left):
        line = ""
        for col in range(len(left)):
            start = positions[col - 1] if col > 0 else 0
            end = positions[col]
            last = col == len(positions) - 1
            space = 0 if last else 2
            cutoff = end - start - space - (0 if last else 1)
            text = left[col][:cutoff]
            # Break long cells after the end of a tuple, list or string item, as Keras does.
            breaks = [text.find(s) + len(s) for s in ("),", "},", "],", "',") if text.find(s) >= 0]
            if breaks:
                cutoff = min(breaks)
                text = text[:cutoff]
            if col == 0:
                line += " "
            line += text + " " * space
            left[col] = left[col][cutoff:]
            line += " " * (positions[col] - len(line))
        print_fn(line)


def _weights_size(weights):
    count = int(sum(np.prod(w.shape) for w in weights))
    size = int(sum(np.prod(w.shape) * w.tensor.element_size() for w in weights))
    return count, size


def _output_shape_text(layer, graph_nodes):
    nodes = layer._inbound_nodes
    if graph_nodes:
        nodes = [n for n in nodes if id(n) in graph_nodes]
    outputs = [node.output_structure for node in nodes]
    if not outputs:
        return "multiple"
    if len(outputs) > 1:
        return "multiple"
    shapes = [tuple(t.shape) for t in flatten(outputs[0])]
    if isinstance(layer, InputLayer):
        return str(shapes)
    return str(shapes[0]) if len(shapes) == 1 else str(shapes)


def _is_sequential_like(model):
    if isinstance(model, Sequential) or model._graph is None:
        return True
    nodes = list(model._graph.nodes) + [t.node for t in model._graph.inputs]
    if any(len(node.inbound_tensors) > 1 for node in nodes):
        return False
    consumers = {}
    for node in nodes:
        for tensor in node.inbound_tensors:
            consumers[id(tensor)] = consumers.get(id(tensor), 0) + 1
    return all(count <= 1 for count in consumers.values()) and len(model._graph.outputs) == 1


def print_summary(model, line_length=None, positions=None, print_fn=None, show_trainable=False):
    print_fn = print_fn or print
    if not model.built or (model._graph is None and not model.weights):
        raise ValueError("This model has not yet been built. Build the model first by calling `build()` or by "
                         "calling the model on a batch of data.")
    sequential_like = _is_sequential_like(model)
    if sequential_like:
        line_length = line_length or 65
        positions = positions or [0.45, 0.85, 1.0]
        header = ["Layer (type)", "Output Shape", "Param #"]
    else:
        line_length = line_length or 98
        positions = positions or [0.3, 0.6, 0.7, 1.0]
        header = ["Layer (type)", "Output Shape", "Param #", "Connected to"]
    if positions[-1] <= 1:
        positions = [int(line_length * p) for p in positions]
    print_fn(f'Model: "{model.name}"')
    print_fn("_" * line_length)
    _print_row(header, positions, print_fn)
    print_fn("=" * line_length)
    graph_nodes = set()
    if model._graph is not None:
        graph_nodes = {id(n) for n in model._graph.nodes} | {id(t.node) for t in model._graph.inputs}
    for layer in model.layers:
        try:
            params = layer.count_params()
        except ValueError:
            params = 0
        fields = [f"{layer.name} ({type(layer).__name__})", _output_shape_text(layer, graph_nodes), params]
        if not sequential_like:
            connections = []
            for node in layer._inbound_nodes:
                if graph_nodes and id(node) not in graph_nodes:
                    continue
                for tensor in node.inbound_tensors:
                    inbound, node_index, tensor_index = tensor._keras_history
                    connections.append(f"{inbound.name}[{node_index}][{tensor_index}]")
            fields.append(connections)
        _print_row(fields, positions, print_fn)
        _print_row([""] * len(positions), positions, print_fn)
    print_fn("=" * line_length)
    trainable_count, trainable_size = _weights_size(model.trainable_weights)
    frozen_count, frozen_size = _weights_size(model.non_trainable_weights)
    print_fn(f"Total params: {trainable_count + frozen_count} ({_readable_size(trainable_size + frozen_size)})")
    print_fn(f"Trainable params: {trainable_count} ({_readable_size(trainable_size)})")
    print_fn(f"Non-trainable params: {frozen_count} ({_readable_size(frozen_size)})")
    print_fn("_" * line_length)
