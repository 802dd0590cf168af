"""plot_model / model_to_dot: the dot source of the layer graph, and clear errors without graphviz."""
import shutil
import sys

import pytest

from fitgen.engine.sequential import Sequential
from fitgen.layers.core import Dense, Dropout
from fitgen.utils import vis_utils


def _model():
    return Sequential([Dense(4, input_shape=(3,)), Dropout(0.5), Dense(1)])


def test_model_to_dot_lists_layers_edges_and_shapes():
    pytest.importorskip("pydot")
    model = _model()
    dot = vis_utils.model_to_dot(model, show_shapes=True, rankdir="LR", dpi=72)
    source = dot.to_string()
    labels = [node.get_label().strip('"') for node in dot.get_nodes() if node.get_name() not in ("node", "graph")]
    assert [label.split("\n")[0] for label in labels] == ["dense_input: InputLayer", "dense: Dense",
                                                           "dropout: Dropout", "dense_1: Dense"]
    assert "{{(None, 3)}|{(None, 4)}}" in labels[1]
    assert len(dot.get_edges()) == 3
    assert "rankdir=LR" in source and "dpi=72" in source


def test_model_to_dot_functional_branches_and_names_off():
    pytest.importorskip("pydot")
    from fitgen.engine.input_layer import Input
    from fitgen.engine.model import Model as FunctionalModel
    from fitgen.layers.merge import Concatenate
    inputs = Input(shape=(3,))
    left, right = Dense(2)(inputs), Dense(2)(inputs)
    model = FunctionalModel(inputs, Concatenate()([left, right]))
    dot = vis_utils.model_to_dot(model, show_layer_names=False)
    labels = sorted(node.get_label().strip('"') for node in dot.get_nodes()
                    if node.get_name() not in ("node", "graph"))
    assert labels == ["Concatenate", "Dense", "Dense", "InputLayer"]
    assert len(dot.get_edges()) == 4


def test_bad_rankdir():
    pytest.importorskip("pydot")
    with pytest.raises(ValueError, match="rankdir"):
        vis_utils.model_to_dot(_model(), rankdir="XY")


def test_missing_pydot_is_an_import_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "pydot", None)
    with pytest.raises(ImportError, match=r"pip install pydot"):
        vis_utils.plot_model(_model())


def test_missing_dot_program_is_an_import_error(monkeypatch, tmp_path):
    pydot = pytest.importorskip("pydot")

    def no_dot(*args, **kwargs):
        raise FileNotFoundError("[Errno 2] \"dot\" not found in path.")

    monkeypatch.setattr(pydot.Dot, "create", no_dot)
    with pytest.raises(ImportError, match="graphviz's `dot` program"):
        vis_utils.plot_model(_model(), to_file=str(tmp_path / "m.png"))
    assert not (tmp_path / "m.png").exists()


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz's dot program is not installed")
def test_plot_model_writes_a_png(tmp_path):
    pytest.importorskip("pydot")
    path = tmp_path / "model.png"
    vis_utils.plot_model(_model(), to_file=str(path), show_shapes=True)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
