"""`plot_model` / `model_to_dot`: the layer graph of a model drawn by graphviz through `pydot`, as in Keras 2.

`model_to_dot` needs only the `pydot` package (it builds the graph description); `plot_model` also needs
graphviz's `dot` program to render it.
"""
import itertools
import os

_PYDOT_MISSING = ("You must install pydot (`pip install pydot`) and graphviz (its `dot` program, see "
                  "https://graphviz.gitlab.io/download/) for `plot_model` / `model_to_dot` to work.")
_DOT_MISSING = ("`plot_model` needs graphviz's `dot` program to render the graph, and it was not found "
                "(pydot is installed). Install graphviz (e.g. `apt-get install graphviz` or `brew install "
                "graphviz`, see https://graphviz.gitlab.io/download/); `model_to_dot(model).to_string()` gives "
                "the graph description without it.")


def _import_pydot():
    try:
        import pydot
    except ImportError as error:
        raise ImportError(_PYDOT_MISSING) from error
    return pydot


def check_graphviz():
    """Raises ImportError (with install instructions) unless pydot and graphviz's `dot` both work."""
    pydot = _import_pydot()
    try:
        # Renders an empty graph: the cheapest proof that the `dot` binary runs.
        pydot.Dot.create(pydot.Dot())
    except Exception as error:  # pydot raises OSError, FileNotFoundError or its own errors
        raise ImportError(_DOT_MISSING) from error


def _shape_label(shapes):
    if not shapes:
        return "multiple"
    texts = [str(tuple(s)) if isinstance(s, (tuple, list)) else str(s) for s in shapes]
    return texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"


def _layer_label(layer, show_shapes, show_layer_names, node):
    class_name = type(layer).__name__
    label = f"{layer.name}: {class_name}" if show_layer_names else class_name
    if not show_shapes:
        return label
    if node is None:
        inputs = outputs = "multiple"
    else:
        inputs = _shape_label([t.shape for t in node.inbound_tensors]) if node.inbound_tensors else "multiple"
        outputs = _shape_label([t.shape for t in node.outputs])
    if not node or not node.inbound_tensors:
        # InputLayer: its "input" is its own output shape.
        inputs = outputs
    # graphviz record labels treat these characters as structure.
    inputs, outputs = (s.replace("{", "\\{").replace("}", "\\}") for s in (inputs, outputs))
    return f"{label}\n|{{input:|output:}}|{{{{{inputs}}}|{{{outputs}}}}}"


def _graph_of(model):
    """(layers, [(parent layer, child layer)], {layer: its node}) in execution order."""
    graph = getattr(model, "_graph", None)
    if graph is None:
        layers = list(model.layers)
        return layers, list(itertools.pairwise(layers)), {}
    nodes = {node.layer: node for node in graph.nodes}
    edges = []
    for node in graph.nodes:
        for tensor in node.inbound_tensors:
            parent = tensor._keras_history[0]
            if parent is not None and (parent, node.layer) not in edges:
                edges.append((parent, node.layer))
    for layer in graph.layers:
        if layer not in nodes and getattr(layer, "_inbound_nodes", None):
            nodes[layer] = layer._inbound_nodes[0]
    return list(graph.layers), edges, nodes


def _add_model(pydot, container, model, show_shapes, show_layer_names, expand_nested, prefix=""):
    """Adds the model's layers and edges; returns {layer: (entry node id, exit node id)}."""
    layers, edges, nodes = _graph_of(model)
    ends = {}
    for layer in layers:
        nested = expand_nested and getattr(layer, "layers", None) and hasattr(layer, "_graph")
        if nested:
            cluster = pydot.Cluster(f"{prefix}{id(layer)}", label=layer.name, style="dashed")
            inner = _add_model(pydot, cluster, layer, show_shapes, show_layer_names, expand_nested,
                               prefix=f"{prefix}{id(layer)}_")
            container.add_subgraph(cluster)
            inner_layers, _, _ = _graph_of(layer)
            ends[layer] = (inner[inner_layers[0]][0], inner[inner_layers[-1]][1])
            continue
        node_id = f"{prefix}{id(layer)}"
        label = _layer_label(layer, show_shapes, show_layer_names, nodes.get(layer))
        container.add_node(pydot.Node(node_id, label=label))
        ends[layer] = (node_id, node_id)
    for parent, child in edges:
        if parent in ends and child in ends:
            container.add_edge(pydot.Edge(ends[parent][1], ends[child][0]))
    return ends


def model_to_dot(model, show_shapes=False, show_layer_names=True, rankdir="TB", expand_nested=False, dpi=96,
                 subgraph=False):
    """Converts a model to a `pydot.Dot` graph (one node per layer, one edge per connection).

    Args:
        model: a fitgen model (Sequential or functional).
        show_shapes: show each layer's input and output shapes.
        show_layer_names: prefix each node with the layer's name.
        rankdir: graphviz direction: 'TB' (vertical) or 'LR' (horizontal).
        expand_nested: draw nested models as clusters of their layers.
        dpi: image resolution.
        subgraph: return a `pydot.Cluster` instead of a `pydot.Dot`.

    Returns:
        A `pydot.Dot` (or `pydot.Cluster`); `.to_string()` gives the graphviz source.

    Raises:
        ImportError: when pydot is missing.
        ValueError: for a `rankdir` other than 'TB' or 'LR'.
    """
    pydot = _import_pydot()
    if rankdir not in ("TB", "LR"):
        raise ValueError(f"Expected `rankdir` to be 'TB' or 'LR'. Received: rankdir={rankdir!r}")
    if subgraph:
        dot = pydot.Cluster(style="dashed", graph_name=model.name, label=model.name)
    else:
        dot = pydot.Dot()
        dot.set("rankdir", rankdir)
        dot.set("concentrate", True)
        dot.set("dpi", dpi)
        dot.set_node_defaults(shape="record")
    _add_model(pydot, dot, model, show_shapes, show_layer_names, expand_nested)
    return dot


def plot_model(model, to_file="model.png", show_shapes=False, show_layer_names=True, rankdir="TB",
               expand_nested=False, dpi=96):
    """Draws the model's layer graph to an image file with graphviz.

    Args:
        model: a fitgen model.
        to_file: file to write; its extension picks the format ('png' when there is none: 'pdf', 'svg', ...).
        show_shapes, show_layer_names, rankdir, expand_nested, dpi: as in `model_to_dot`.

    Raises:
        ImportError: when pydot or graphviz's `dot` program is missing (the message says how to install them).

    Example:

    ```python
    plot_model(model, to_file='model.png', show_shapes=True)
    ```
    """
    check_graphviz()
    dot = model_to_dot(model, show_shapes=show_shapes, show_layer_names=show_layer_names, rankdir=rankdir,
                       expand_nested=expand_nested, dpi=dpi)
    to_file = os.fspath(to_file)
    extension = os.path.splitext(to_file)[1][1:] or "png"
    folder = os.path.dirname(to_file)
    if folder:
        os.makedirs(folder, exist_ok=True)
    dot.write(to_file, format=extension)
