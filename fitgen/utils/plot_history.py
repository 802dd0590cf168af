"""`plot_history`: the loss and metric curves of a `History`, train and validation, one subplot per metric."""
import os

_INSTALL = ("plot_history needs matplotlib. Install it with `pip install fitgen[plot]` (or "
            "`pip install matplotlib`).")
_NOT_CURVES = ("lr", "learning_rate", "data_wait", "batch", "size")


def _figure_class():
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator
    except ImportError as error:
        raise ImportError(_INSTALL) from error
    return Figure, FigureCanvasAgg, MaxNLocator


def _as_dict(history):
    if isinstance(history, dict):
        return history, None
    values = getattr(history, "history", None)
    if not isinstance(values, dict):
        raise TypeError("`history` must be the History object that `fit` returns, or its `history` dict "
                        f"(name -> list of per-epoch values). Received: {type(history).__name__}")
    return values, getattr(history, "epoch", None)


def plot_history(history, path=None, metrics=None, figsize=None, dpi=100):
    """Plots training curves: one subplot per metric, the training values and their 'val_' twins.

    Args:
        history: the `History` returned by `fit`/`fit_generator`, or its `.history` dict.
        path: file to write (PNG unless its extension names another format matplotlib knows); missing
            folders are created. None: nothing is written.
        metrics: names to plot (without 'val_'), e.g. `['loss', 'acc']`. Default: every logged name, loss
            first, except learning rates and pipeline statistics.
        figsize: (width, height) in inches; default 5 x 3.5 per subplot, side by side.
        dpi: resolution of the written image.

    Returns:
        The matplotlib `Figure` (drawn with the Agg canvas, so no display is needed).

    Raises:
        ImportError: when matplotlib is missing (the message names `pip install fitgen[plot]`).
        ValueError: when a requested metric is not in the history, or there is nothing to plot.

    Example:

    ```python
    history = model.fit(x, y, validation_split=0.2, epochs=10)
    fitgen.utils.plot_history(history, 'curves.png')
    ```
    """
    values, epochs = _as_dict(history)
    names = _metric_names(values, metrics)
    Figure, FigureCanvasAgg, MaxNLocator = _figure_class()
    figure = Figure(figsize=figsize or (5 * len(names), 3.5))
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, len(names), squeeze=False)[0]
    for axis, name in zip(axes, names):
        for key, label in ((name, "train"), ("val_" + name, "validation")):
            series = values.get(key)
            if not series:
                continue
            # Epochs are 1-based on screen, as in Keras's console.
            x = _x_axis(epochs, len(series), key.startswith("val_"), len(values.get(name) or series))
            axis.plot(x, [float(v) for v in series], marker="o" if len(series) < 30 else None, label=label)
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.set_title(name)
        axis.set_xlabel("epoch")
        axis.set_ylabel(name)
        axis.grid(True, alpha=0.3)
        axis.legend()
    figure.tight_layout()
    if path is not None:
        path = os.fspath(path)
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        extension = os.path.splitext(path)[1][1:].lower()
        figure.savefig(path, format=extension or "png", dpi=dpi)
    return figure


def _metric_names(values, metrics):
    if metrics is not None:
        names = [metrics] if isinstance(metrics, str) else list(metrics)
        missing = [n for n in names if n not in values and "val_" + n not in values]
        if missing:
            raise ValueError(f"plot_history: {missing} not in the history. Available names: {sorted(values)}")
        return names
    names = [k for k in values if not k.startswith("val_") and k not in _NOT_CURVES]
    names += [k[4:] for k in values if k.startswith("val_") and k[4:] not in names and k[4:] not in _NOT_CURVES]
    if not names:
        raise ValueError(f"plot_history: nothing to plot; the history holds {sorted(values)}.")
    names.sort(key=lambda n: (n != "loss", not n.endswith("loss")))
    return names


def _x_axis(epochs, length, is_val, train_length):
    epochs = list(epochs) if epochs else list(range(train_length))
    if epochs and len(epochs) == length:
        return [e + 1 for e in epochs]
    if is_val and epochs and len(epochs) == train_length and 0 < length < train_length:
        # validation_freq=k validates epochs k, 2k, ...: spread the values the same way.
        return [epochs[round((i + 1) * train_length / length) - 1] + 1 for i in range(length)]
    return list(range(1, length + 1))
