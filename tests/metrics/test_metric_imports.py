"""The private metric modules never import the public `fitgen.metrics` (which imports them): no cycle, and no
function-level imports standing in for one."""
import ast
import pathlib

import fitgen

ROOT = pathlib.Path(fitgen.__file__).resolve().parent


def _imports(path, top_level_only):
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_private_metric_modules_do_not_import_the_public_module():
    for path in (ROOT / "_metrics").glob("*.py"):
        assert "fitgen.metrics" not in _imports(path, top_level_only=False), path.name


def test_metric_and_loss_modules_import_at_the_top_only():
    paths = list((ROOT / "_metrics").glob("*.py")) + list((ROOT / "_losses").glob("*.py")) + \
        [ROOT / "metrics.py", ROOT / "losses.py"]
    for path in paths:
        assert _imports(path, top_level_only=False) == _imports(path, top_level_only=True), path.name


def test_mean_metric_wrapper_from_config_resolves_function_names():
    from fitgen._metrics.base import MeanMetricWrapper
    from fitgen._metrics.functions import categorical_accuracy
    from fitgen.utils.generic_utils import custom_object_scope
    metric = MeanMetricWrapper.from_config({"name": "accuracy", "dtype": "float32", "fn": "categorical_accuracy"})
    assert metric._fn is categorical_accuracy and metric.name == "accuracy"

    def mine(y_true, y_pred):
        return y_true

    with custom_object_scope({"mine": mine}):
        assert MeanMetricWrapper.from_config({"name": "m", "fn": "mine"})._fn is mine
