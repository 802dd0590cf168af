"""The functional graph: which layers a `Model(inputs, outputs)` holds, in which order they run.

Layer order follows tf-keras (`model.layers`: by decreasing depth from the outputs, ties in the order the
layers were reached from the outputs), so `get_weights()` and HDF5 files list weights as Keras does.
"""
from fitgen.engine import keras_tensor
from fitgen.engine.keras_tensor import KerasTensor, flatten, map_structure


class GraphNetwork:
    """The nodes between `inputs` and `outputs`, in an order that can be executed.

    `extra_outputs` are tensors the graph also computes but that are not model outputs: the symbolic losses and
    metrics added with `model.add_loss` / `model.add_metric`; `run` returns them after the outputs.
    """

    def __init__(self, inputs, outputs, extra_outputs=()):
        self.inputs = _as_tensor_list(inputs, "inputs")
        self.outputs = _as_tensor_list(outputs, "outputs")
        self.extra_outputs = _as_tensor_list(list(extra_outputs), "added losses and metrics") if extra_outputs else []
        nodes, layer_order = _nodes_in_topological_order(self.outputs + self.extra_outputs)
        self._check_connected(nodes)
        depths = _depths(nodes)
        by_depth = {}
        for node in nodes:
            layer = node.layer
            by_depth.setdefault(depths[layer], [])
            if layer not in by_depth[depths[layer]]:
                by_depth[depths[layer]].append(layer)
        self.layers = []
        for depth in sorted(by_depth, reverse=True):
            self.layers.extend(sorted(by_depth[depth], key=lambda layer: layer_order[layer]))
        input_layers = {t._keras_history[0] for t in self.inputs}
        self.nodes = [n for n in nodes if n.layer not in input_layers or n.inbound_tensors]
        self.input_layers = [t._keras_history[0] for t in self.inputs]
        self.output_layers = [t._keras_history[0] for t in self.outputs]
        # A tensor's value lives in a flat list slot during execution; precompute the slots once.
        slots = {}
        for tensor in self.inputs:
            slots.setdefault(id(tensor), len(slots))
        for node in self.nodes:
            for tensor in node.outputs:
                slots.setdefault(id(tensor), len(slots))
        self._slots = slots
        self._input_slots = [slots[id(t)] for t in self.inputs]
        self._output_slots = [slots[id(t)] for t in self.outputs + self.extra_outputs]
        release = _release_plan(self.nodes, slots, self._output_slots)
        self._plan = [(node.layer, node, [slots[id(t)] for t in node.outputs],
                       isinstance(node.output_structure, KerasTensor), release[i]) for i, node in enumerate(self.nodes)]

    def _check_connected(self, nodes):
        available = {id(t) for t in self.inputs}
        for node in nodes:
            if not node.inbound_tensors:
                if not any(id(t) in available for t in node.outputs):
                    tensor = node.outputs[0]
                    raise ValueError(
                        f"Graph disconnected: cannot obtain value for tensor {tensor.name} (input layer "
                        f"'{node.layer.name}'): it is not among the model's inputs "
                        f"{[t.name for t in self.inputs]}.")
                continue
            for tensor in node.inbound_tensors:
                if id(tensor) not in available:
                    raise ValueError(f"Graph disconnected: cannot obtain value for tensor {tensor.name} at layer "
                                     f"'{node.layer.name}'. The model inputs are {[t.name for t in self.inputs]}.")
            available.update(id(t) for t in node.outputs)

    def run(self, inputs):
        """Runs the graph on a list of torch tensors (model input order); returns the outputs, then the extras."""
        values = [None] * len(self._slots)
        for slot, value in zip(self._input_slots, inputs):
            values[slot] = value
        slots = self._slots
        for layer, node, output_slots, single_output, released in self._plan:
            args = map_structure(lambda t: values[slots[id(t)]], node.input_structure)
            kwargs, extra_args = node.kwargs, node.args
            if kwargs:
                kwargs = map_structure(lambda v: values[slots[id(v)]] if isinstance(v, KerasTensor) else v, kwargs)
            if extra_args:
                extra_args = map_structure(lambda v: values[slots[id(v)]] if isinstance(v, KerasTensor) else v,
                                           tuple(extra_args))
            out = layer(args, *extra_args, **kwargs)
            if single_output:
                values[output_slots[0]] = out
            else:
                for slot, value in zip(output_slots, flatten(out)):
                    values[slot] = value
            for slot in released:
                values[slot] = None
        return [values[s] for s in self._output_slots]


    def output_shapes(self, input_shapes):
        """The outputs' shapes when the graph is applied to inputs of `input_shapes` (a list, input order).

        Shapes flow node by node through each layer's output-shape rule, so a model used as a layer on a more
        specific tensor (e.g. `Input((68,))` into a model built for `(None, None)`) gives the specific shape.
        """
        specs = {}
        for tensor, shape in zip(self.inputs, input_shapes):
            specs[id(tensor)] = KerasTensor(shape, tensor.dtype)

        def spec(value):
            return specs[id(value)] if isinstance(value, KerasTensor) else value

        for layer, node, *_ in self._plan:
            inputs = map_structure(spec, node.input_structure)
            shapes, dtypes = keras_tensor.output_spec(layer, inputs, tuple(map_structure(spec, tuple(node.args))),
                                                      {k: map_structure(spec, v) for k, v in node.kwargs.items()})
            for tensor, out_shape, out_dtype in zip(node.outputs, keras_tensor.flatten_shapes(shapes),
                                                    flatten(dtypes)):
                specs[id(tensor)] = KerasTensor(out_shape, out_dtype)
        return [specs[id(t)].shape for t in self.outputs]


def _release_plan(nodes, slots, output_slots):
    """For each node, the value slots no later node reads (model outputs excepted): `run` drops them right
    after that node, so an intermediate tensor is freed as soon as it is used up and the allocator reuses its
    memory (holding every activation until the end costs a deep network's whole activation memory and
    fresh, slow, pages for each layer)."""
    last_use = {}
    for i, node in enumerate(nodes):
        for tensor in node.outputs:
            last_use.setdefault(slots[id(tensor)], i)  # an output nobody reads is dropped at once
        for tensor in node.inbound_tensors:
            last_use[slots[id(tensor)]] = i
    keep = set(output_slots)
    release = [[] for _ in nodes]
    for slot, i in last_use.items():
        if slot not in keep:
            release[i].append(slot)
    return release


def _as_tensor_list(tensors, argument):
    if isinstance(tensors, dict):
        tensors = list(tensors.values())
    tensors = list(tensors) if isinstance(tensors, (list, tuple)) else [tensors]
    for tensor in tensors:
        if not isinstance(tensor, KerasTensor):
            raise ValueError(f"Model `{argument}` must be symbolic tensors from `fitgen.layers.Input` or layer "
                             f"calls on them. Received: {type(tensor).__name__} {tensor!r}")
    return tensors


def _nodes_in_topological_order(outputs):
    finished, in_progress, order, layer_order = set(), set(), [], {}

    def visit(node):
        if id(node) in finished:
            return
        if id(node) in in_progress:
            raise ValueError(f"The graph has a cycle at layer '{node.layer.name}'.")
        layer_order.setdefault(node.layer, len(layer_order))
        in_progress.add(id(node))
        for parent in node.parent_nodes:
            visit(parent)
        in_progress.discard(id(node))
        finished.add(id(node))
        order.append(node)

    for tensor in outputs:
        visit(tensor.node)
    return order, layer_order


def _depths(nodes):
    node_depth, layer_depth = {}, {}
    for node in reversed(nodes):
        depth = max(node_depth.setdefault(id(node), 0), layer_depth.get(node.layer, 0))
        layer_depth[node.layer] = depth
        node_depth[id(node)] = depth
        for parent in node.parent_nodes:
            node_depth[id(parent)] = max(depth + 1, node_depth.get(id(parent), 0))
    return layer_depth
