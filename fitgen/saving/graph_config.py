"""The functional graph as Keras 2 configs describe it, and back: layers with their `inbound_nodes`.

A node is written as the nested structure of its first call argument with each tensor replaced by
`[layer_name, node_index, tensor_index, kwargs]`; tensors inside `kwargs` (a `mask`, an `initial_state`) are
`[layer_name, node_index, tensor_index]`. Node indices count only the nodes that belong to the model, and a
nested model's first node is reserved (Keras gives every graph model a node of its own), as tf-keras counts.
Reading replays the nodes, re-queuing a node whose inputs do not exist yet (shared layers at different depths).
"""
import inspect

import numpy as np
import torch

from fitgen.engine.input_layer import Input, InputLayer
from fitgen.engine.keras_tensor import KerasTensor, flatten, map_structure
from fitgen.engine.model import Model
from fitgen.engine.sequential import Sequential


def _skips_first_node(layer):
    return isinstance(layer, Model) and layer._graph is not None


def _is_ref(value):
    return (isinstance(value, (list, tuple)) and len(value) in (3, 4) and isinstance(value[0], str)
            and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value[1:3]))


# ------------------------------------------------------------------------------------------------ write
def functional_config(model, serialize_layer):
    """`{"name", "trainable", "layers", "input_layers", "output_layers"}` of a functional model."""
    graph = model._graph
    in_model = {id(node) for node in graph.nodes} | {id(t.node) for t in graph.inputs}
    config_index = {}
    for layer in model.layers:
        kept = 1 if _skips_first_node(layer) else 0
        for node in layer._inbound_nodes:
            if id(node) in in_model:
                config_index[id(node)] = kept
                kept += 1

    def ref(tensor):
        layer, node_index, tensor_index = tensor._keras_history
        return [layer.name, config_index.get(id(layer._inbound_nodes[node_index]), 0), tensor_index]

    layers = []
    for layer in model.layers:
        entry = serialize_layer(layer)
        entry["name"] = layer.name
        entry["inbound_nodes"] = [_serialize_node(node, ref) for node in layer._inbound_nodes
                                  if id(node) in in_model and node.inbound_tensors]
        layers.append(entry)
    config = {"name": model.name, "trainable": model.trainable, "layers": layers,
              "input_layers": _io_refs(model._nested_inputs, ref),
              "output_layers": _io_refs(model._nested_outputs, ref)}
    # fitgen's own keys: the symbolic losses and metrics added with add_loss / add_metric.
    if model._graph_losses:
        config["added_losses"] = [ref(tensor) for tensor in model._graph_losses]
    if model._graph_metrics:
        config["added_metrics"] = [[ref(tensor), name, aggregation]
                                   for tensor, name, aggregation in model._graph_metrics]
    return config


def _io_refs(structure, ref):
    if isinstance(structure, KerasTensor):
        return [ref(structure)]
    return _to_lists(map_structure(ref, structure))


def _to_lists(structure):
    if isinstance(structure, (list, tuple)):
        return [_to_lists(s) for s in structure]
    if isinstance(structure, dict):
        return {k: _to_lists(v) for k, v in structure.items()}
    return structure


def _serialize_node(node, ref):
    layer = node.layer
    positional = [p.name for p in _call_parameters(layer)
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)][1:]
    if len(node.args) > len(positional):
        raise ValueError(f"Cannot serialize the call of layer {layer.name!r}: it received {len(node.args)} extra "
                         f"positional arguments, but `call` names only {positional}.")
    kwargs = dict(zip(positional, node.args))
    kwargs.update(node.kwargs)
    kwargs = _to_lists(map_structure(lambda v: _serialize_value(v, ref, layer), kwargs))
    data = map_structure(lambda t: ref(t) + [kwargs], node.input_structure)
    return [data] if isinstance(node.input_structure, KerasTensor) else _to_lists(data)


def _serialize_value(value, ref, layer):
    if isinstance(value, KerasTensor):
        return ref(value)
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().tolist()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise ValueError(f"Cannot serialize the call argument {value!r} of layer {layer.name!r}: only tensors, "
                     "arrays and JSON values can be stored in a model config.")


def _call_parameters(layer):
    try:
        return list(inspect.signature(layer.call).parameters.values())
    except (TypeError, ValueError):
        return []


# ------------------------------------------------------------------------------------------------- read
class _NotReady(Exception):
    """An inbound node of this node does not exist yet; try again after other layers ran."""


def reconstruct(config, custom_objects, deserialize_layer):
    """(input tensors, output tensors, added) of a functional config, with every layer created and connected;
    `added` holds the symbolic losses ('losses') and (tensor, name, aggregation) metrics ('metrics') to add.

    Raises:
        ValueError: for duplicate or unknown layer names, malformed node data, or a graph that cannot be
            connected.
    """
    created, pending, counts, node_map = {}, {}, {}, {}
    for entry in config["layers"]:
        name = entry.get("name") or (entry.get("config") or {}).get("name")
        if name in created:
            raise ValueError(f"Improper model config: two layers are named {name!r}.")
        layer = deserialize_layer(entry, custom_objects)
        created[name] = layer
        counts[name] = 1 if _skips_first_node(layer) else 0
        pending[name] = [] if isinstance(layer, InputLayer) else list(entry.get("inbound_nodes") or [])

    def tensor(value):
        name, index, tensor_index = value[0], int(value[1]), int(value[2])
        if name not in created:
            raise ValueError(f"Improper model config: a node refers to layer {name!r}, which the config does not "
                             f"define. Defined layers: {list(created)}.")
        source = created[name]
        real = 0 if isinstance(source, InputLayer) else node_map.get((name, index))
        if real is None or real >= len(source._inbound_nodes):
            raise _NotReady()
        return flatten(source._inbound_nodes[real].output_structure)[tensor_index]

    def run_node(name, node_data):
        layer = created[name]
        kwargs = {}

        def leaf(value):
            if len(value) == 4 and value[3]:
                kwargs.update(_resolve(value[3], tensor))
            return tensor(value)

        try:
            inputs = _map_refs(node_data, leaf, name)
        except _NotReady:
            return False
        if isinstance(inputs, list) and len(inputs) == 1 and isinstance(inputs[0], KerasTensor):
            inputs = inputs[0]
        layer(inputs, **kwargs)
        node_map[(name, counts[name])] = len(layer._inbound_nodes) - 1
        counts[name] += 1
        return True

    while any(pending.values()):
        progressed = False
        for name, queue in pending.items():
            while queue and run_node(name, queue[0]):
                queue.pop(0)
                progressed = True
        if not progressed:
            stuck = [name for name, queue in pending.items() if queue]
            raise ValueError(f"Improper model config: the inputs of layer(s) {stuck} never become available (a node "
                             "refers to a layer call that the config does not define).")

    def endpoint(value):
        try:
            return tensor(value)
        except _NotReady:
            raise ValueError(f"Improper model config: the model input/output {value} refers to a layer call "
                             "that the config does not define.") from None

    added = {"losses": [endpoint(value) for value in config.get("added_losses") or []],
             "metrics": [(endpoint(value), name, aggregation)
                         for value, name, aggregation in config.get("added_metrics") or []]}
    return (_endpoints(config.get("input_layers"), endpoint, "input_layers"),
            _endpoints(config.get("output_layers"), endpoint, "output_layers"), added)


def _endpoints(structure, endpoint, key):
    if structure is None:
        raise ValueError(f"Improper model config: a functional model config needs {key!r}.")
    if _is_ref(structure):
        return [endpoint(structure)]
    return _map_refs(structure, endpoint, key)


def _map_refs(structure, fn, where):
    if _is_ref(structure):
        return fn(structure)
    if isinstance(structure, (list, tuple)):
        return [_map_refs(s, fn, where) for s in structure]
    if isinstance(structure, dict):
        return {k: _map_refs(v, fn, where) for k, v in structure.items()}
    raise ValueError(f"Improper model config: unexpected node data {structure!r} (in {where!r}).")


def _resolve(kwargs, tensor):
    def walk(value):
        if _is_ref(value) and len(value) == 3:
            return tensor(value)
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        return value
    return {k: walk(v) for k, v in kwargs.items()}


# ------------------------------------------------------------------------------------------------ clone
def clone(model, input_tensors, clone_function):
    """`clone_model`: the same graph over new layers (`clone_function(layer)`) and new (or given) inputs."""
    if input_tensors is not None and not isinstance(input_tensors, (list, tuple)):
        input_tensors = [input_tensors]
    if isinstance(model, Sequential):
        new = Sequential(name=model.name)
        if input_tensors is not None:
            new.add(input_tensors[0])
        elif model._input_tensor is not None:
            new.add(InputLayer(**model._input_tensor._keras_history[0].get_config()))
        for layer in model.layers:
            new.add(clone_function(layer))
        return new
    if not isinstance(model, Model) or model._graph is None:
        raise ValueError("clone_model expects a Sequential or functional model; a subclassed model's graph is "
                         f"Python code that cannot be cloned. Received: {model!r}")
    mapping = {}
    if input_tensors is not None:
        if len(input_tensors) != len(model.inputs):
            raise ValueError(f"`input_tensors` must have one tensor per model input ({len(model.inputs)}); "
                             f"received {len(input_tensors)}.")
        for old, new in zip(model.inputs, input_tensors):
            mapping[id(old)] = new
    else:
        for old in model.inputs:
            source = old._keras_history[0]
            mapping[id(old)] = Input(batch_shape=source._batch_input_shape, dtype=source.dtype, name=source.name)
    new_layers = {}

    def swap(value):
        return mapping[id(value)] if isinstance(value, KerasTensor) else value

    for node in model._graph.nodes:
        if isinstance(node.layer, InputLayer):
            continue
        if id(node.layer) not in new_layers:
            new_layers[id(node.layer)] = clone_function(node.layer)
        outputs = new_layers[id(node.layer)](map_structure(swap, node.input_structure),
                                             *map_structure(swap, list(node.args)),
                                             **map_structure(swap, dict(node.kwargs)))
        for old, new in zip(node.outputs, flatten(outputs)):
            mapping[id(old)] = new
    inputs = map_structure(swap, model._nested_inputs)
    outputs = map_structure(swap, model._nested_outputs)
    return Model(inputs=inputs, outputs=outputs, name=model.name)
