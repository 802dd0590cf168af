"""plot_history: a valid PNG with one subplot per metric, train and validation curves."""
import sys

import pytest

pytest.importorskip("matplotlib")
from PIL import Image

from fitgen.callbacks.history import History
from fitgen.utils.plot_history import plot_history

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _history():
    history = History()
    history.epoch = [0, 1, 2, 3]
    history.history = {"loss": [1.0, 0.8, 0.6, 0.5], "acc": [0.5, 0.6, 0.7, 0.8], "val_loss": [1.1, 0.9, 0.8, 0.7],
                       "val_acc": [0.4, 0.5, 0.6, 0.7], "lr": [0.1] * 4}
    return history


def test_writes_a_png_with_one_subplot_per_metric(tmp_path):
    path = tmp_path / "plots" / "curves.png"
    figure = plot_history(_history(), str(path))
    assert path.read_bytes()[:8] == PNG_MAGIC
    with Image.open(path) as image:
        image.verify()
    axes = figure.get_axes()
    assert [axis.get_title() for axis in axes] == ["loss", "acc"]
    loss_lines = axes[0].get_lines()
    assert [line.get_label() for line in loss_lines] == ["train", "validation"]
    assert list(loss_lines[0].get_xdata()) == [1, 2, 3, 4]
    assert list(loss_lines[1].get_ydata()) == [1.1, 0.9, 0.8, 0.7]


def test_from_a_real_fit_and_a_dict(tmp_path):
    import numpy as np

    from fitgen.engine.sequential import Sequential
    from fitgen.layers.core import Dense
    model = Sequential([Dense(1, activation="sigmoid", input_shape=(2,))])
    model.compile("sgd", "binary_crossentropy", metrics=["accuracy"])
    x = np.random.rand(8, 2).astype("float32")
    history = model.fit(x, (x[:, :1] > 0.5).astype("float32"), epochs=2, verbose=0, validation_split=0.25)
    figure = plot_history(history.history, str(tmp_path / "fit.png"), metrics=["accuracy"])
    assert [axis.get_title() for axis in figure.get_axes()] == ["accuracy"]
    assert (tmp_path / "fit.png").read_bytes()[:8] == PNG_MAGIC


def test_sparse_validation_is_spread_over_its_epochs():
    history = {"loss": [4.0, 3.0, 2.0, 1.0], "val_loss": [3.5, 1.5]}
    figure = plot_history(history)
    assert list(figure.get_axes()[0].get_lines()[1].get_xdata()) == [2, 4]


def test_bad_input():
    with pytest.raises(ValueError, match=r"\['mae'\] not in the history"):
        plot_history(_history(), metrics=["mae"])
    with pytest.raises(TypeError, match="History object"):
        plot_history([1, 2, 3])
    with pytest.raises(ValueError, match="nothing to plot"):
        plot_history({"lr": [0.1]})


def test_missing_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"pip install fitgen\[plot\]"):
        plot_history(_history())
