"""The `training_config` of an HDF5 file: what `compile` was given, as tf-keras 2.21 stores it, and back.

Written form (tf-keras 2.21): `{"loss", "metrics", "weighted_metrics", "loss_weights", "optimizer_config"}`
plus Keras 2.2's `sample_weight_mode` (which Keras 2.2.4's loader requires). Metrics are stored resolved, one
list per output (`[null]` for an output without metrics), each a `MeanMetricWrapper`-style config whose name is
the log key (`output_accuracy` for multi-output models). Read forms: that one and Keras 2.2/2.3's (metric names
as given to compile, optimizers such as `{"class_name": "SGD", "config": {"lr": ...}}`).
"""
import copy

from fitgen import losses as losses_module
from fitgen import metrics as metrics_module
from fitgen import optimizers as optimizers_module
from fitgen.utils import generic_utils

_SPECIAL_METRICS = ("accuracy", "acc", "crossentropy", "ce")


def training_config(model):
    """The training_config dict of a compiled model (None when it was never compiled)."""
    if not getattr(model, "compiled", False) or model.optimizer is None:
        return None
    args = model._compile_args
    specs = model._output_specs or []
    return {
        "loss": _serialize_nested(args.get("loss")),
        "metrics": None if args.get("metrics") is None else _metric_lists(specs, weighted=False),
        "weighted_metrics": None if args.get("weighted_metrics") is None else _metric_lists(specs, weighted=True),
        "loss_weights": _plain(args.get("loss_weights")),
        "optimizer_config": optimizers_module.serialize(model.optimizer, use_legacy_format=True),
        "sample_weight_mode": _plain(args.get("sample_weight_mode")),
    }


def _serialize_nested(value):
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict):
        return {k: _serialize_nested(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_serialize_nested(v) for v in value]
    return losses_module.serialize(value)


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value.item() if hasattr(value, "item") and not isinstance(value, (str, bytes)) else value


def _metric_lists(specs, weighted):
    lists = []
    for spec in specs:
        metrics = spec.weighted_metrics if weighted else spec.metrics
        lists.append([_serialize_metric(m) for m in metrics] or [None])
    return lists


def _serialize_metric(metric):
    config = metrics_module.serialize(metric)
    if isinstance(config, dict):
        config = copy.deepcopy(config)
        config.setdefault("config", {})["name"] = getattr(metric, "display_name", metric.name)
    return config


# ------------------------------------------------------------------------------------------------- read
def compile_args(config, model, custom_objects=None):
    """`model.compile` keyword arguments from a training_config of any Keras 2 era.

    Raises:
        ValueError: for unknown optimizer, loss or metric names (pass custom ones in `custom_objects`).
    """
    with generic_utils.CustomObjectScope(custom_objects or {}):
        optimizer_config = config.get("optimizer_config")
        if optimizer_config is None:
            raise ValueError("The training_config has no `optimizer_config`.")
        optimizer = optimizers_module.deserialize(optimizer_config, custom_objects=custom_objects)
        loss = _nested(config.get("loss"), lambda v: _loss(v, custom_objects))
        output_names = model.output_names
        metrics = _metrics_arg(config.get("metrics"), output_names, custom_objects)
        weighted = _metrics_arg(config.get("weighted_metrics"), output_names, custom_objects)
    return {"optimizer": optimizer, "loss": loss, "metrics": metrics, "weighted_metrics": weighted,
            "loss_weights": config.get("loss_weights"), "sample_weight_mode": config.get("sample_weight_mode")}


def _nested(value, fn):
    if value is None:
        return None
    if isinstance(value, str) or (isinstance(value, dict) and "class_name" in value):
        return fn(value)
    if isinstance(value, dict):
        return {k: _nested(v, fn) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_nested(v, fn) for v in value]
    raise ValueError(f"Saved training configuration not understood: {value!r}. Expected a name, a config dict, or "
                     "a list or dict of them.")


def _custom(name, custom_objects):
    objects = dict(generic_utils.get_custom_objects())
    objects.update(custom_objects or {})
    return objects.get(name)


def _loss(value, custom_objects):
    if isinstance(value, str):
        # Built-in names stay strings (compile's metric rules look at the loss name); custom ones resolve now.
        custom = _custom(value, custom_objects)
        if custom is None:
            losses_module.get(value)  # unknown names fail here, with the list of accepted ones
            return value
        return custom() if isinstance(custom, type) else custom
    return losses_module.deserialize(value, custom_objects=custom_objects)


def _metric(value, custom_objects):
    if value is None:
        return None
    if isinstance(value, str):
        if value.lower() in _SPECIAL_METRICS:
            return value
        custom = _custom(value, custom_objects)
        if custom is not None:
            return custom() if isinstance(custom, type) else custom
        metrics_module.get(value)
        return value
    return metrics_module.deserialize(value, custom_objects=custom_objects)


def _metrics_arg(config, output_names, custom_objects):
    if config is None:
        return None
    resolved = _nested_metrics(config, custom_objects)
    per_output = (isinstance(resolved, list) and len(resolved) == len(output_names)
                  and all(isinstance(m, list) for m in resolved))
    if not per_output:
        return resolved  # Keras 2.2 forms: one list for all outputs, or a dict by output name
    lists = [[m for m in ms if m is not None] for ms in resolved]
    if len(output_names) == 1:
        return lists[0]
    # Stored names carry the output prefix (`output_accuracy`); compile adds it again.
    for name, ms in zip(output_names, lists):
        for m in ms:
            if hasattr(m, "name") and isinstance(m.name, str) and m.name.startswith(f"{name}_"):
                m.name = m.name[len(name) + 1:]
    return lists


def _nested_metrics(value, custom_objects):
    if value is None:
        return None
    if isinstance(value, list):
        return [_nested_metrics(v, custom_objects) for v in value]
    if isinstance(value, dict) and "class_name" not in value:
        return {k: _nested_metrics(v, custom_objects) for k, v in value.items()}
    return _metric(value, custom_objects)
