"""Shared monitor logic of ModelCheckpoint, EarlyStopping and ReduceLROnPlateau: which direction is better,
where `best` starts, and what to do when the monitored value is missing from the logs.

The three callbacks resolve `mode='auto'` differently, as Keras 2 does, so the rule is an argument:
- 'substring' (ModelCheckpoint): max when 'acc' is in the name or it starts with 'fmeasure' (Keras 2.2.4);
- 'acc' (ReduceLROnPlateau): max when 'acc' is in the name;
- 'suffix' (EarlyStopping, tf-keras 2.21): max when the name ends with 'acc', 'accuracy' or 'auc'.
"""
import math
import warnings

import numpy as np

from fitgen.callbacks.logs import MetricLogs

_MODES = ("auto", "min", "max")


def resolve_mode(mode, monitor, rule, owner):
    """'min' or 'max' for `mode` and `monitor`; an unknown mode warns and falls back to 'auto' as Keras does."""
    if mode not in _MODES:
        warnings.warn(f"{owner} mode {mode} is unknown, fallback to auto mode.", RuntimeWarning, stacklevel=3)
        mode = "auto"
    if mode != "auto":
        return mode
    if rule == "substring":
        better_is_higher = "acc" in monitor or monitor.startswith("fmeasure")
    elif rule == "acc":
        better_is_higher = "acc" in monitor
    elif rule == "suffix":
        better_is_higher = monitor.endswith(("acc", "accuracy", "auc"))
    else:
        raise ValueError(f"Unknown auto-mode rule {rule!r}; expected 'substring', 'acc' or 'suffix'.")
    return "max" if better_is_higher else "min"


def worst_value(mode):
    """Where `best` starts: +inf when lower is better, -inf when higher is better."""
    return math.inf if mode == "min" else -math.inf


def compare_op(mode):
    return np.less if mode == "min" else np.greater


def monitor_value(logs, monitor, message):
    """`logs[monitor]` as a float, or None with a RuntimeWarning (`message` formats monitor and the keys)."""
    logs = logs if isinstance(logs, MetricLogs) else MetricLogs(logs or {})  # 'val_acc' finds 'val_accuracy'
    value = logs.get(monitor)
    if value is None:
        warnings.warn(message % (monitor, ",".join(logs.keys())) if message.count("%s") == 2
                      else message % monitor, RuntimeWarning, stacklevel=3)
        return None
    return to_float(value)


def to_float(value):
    """A logged value (Python number, NumPy scalar, 0-d tensor) as a Python float."""
    if hasattr(value, "item"):
        value = value.item()
    return float(value)
