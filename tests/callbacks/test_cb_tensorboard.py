"""TensorBoard: real event files in tf-keras's layout, read back with tensorboard's EventAccumulator."""
import os
import sys

import pytest
from cb_models import tiny_data, tiny_model

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from fitgen.callbacks.tensorboard import TensorBoard


def _read(folder):
    accumulator = EventAccumulator(str(folder), size_guidance={"scalars": 0, "histograms": 0})
    accumulator.Reload()
    return accumulator


def _scalars(accumulator, tag):
    return [(event.step, event.value) for event in accumulator.Scalars(tag)]


def test_epoch_scalars_and_histograms(tmp_path):
    x, y = tiny_data(8)
    model = tiny_model()
    history = model.fit(x, y, batch_size=4, epochs=3, verbose=0, validation_data=(x, y),
                        callbacks=[TensorBoard(log_dir=str(tmp_path), histogram_freq=2)])
    train, validation = _read(tmp_path / "train"), _read(tmp_path / "validation")
    assert {"epoch_loss", "epoch_acc"} <= set(train.Tags()["scalars"])
    steps_and_losses = _scalars(train, "epoch_loss")
    assert [s for s, _ in steps_and_losses] == [0, 1, 2]
    assert [v for _, v in steps_and_losses] == pytest.approx(history.history["loss"], rel=1e-6)
    assert [v for _, v in _scalars(validation, "epoch_loss")] == pytest.approx(history.history["val_loss"],
                                                                               rel=1e-6)
    assert "epoch_val_loss" not in validation.Tags()["scalars"]
    assert "evaluation_loss_vs_iterations" in validation.Tags()["scalars"]
    assert [s for s, _ in _scalars(validation, "evaluation_loss_vs_iterations")] == [2, 4, 6]
    # tf-keras names: the weight name with ':' replaced, plus '/histogram'; written at epochs 0, 2, ...
    assert set(train.Tags()["histograms"]) == {"dense/kernel_0/histogram", "dense/bias_0/histogram",
                                               "dense_1/kernel_0/histogram", "dense_1/bias_0/histogram"}
    assert [event.step for event in train.Histograms("dense/kernel_0/histogram")] == [0, 2]


def test_batch_scalars_every_n_batches(tmp_path):
    x, y = tiny_data(16)
    model = tiny_model()
    model.fit(x, y, batch_size=4, epochs=2, verbose=0, callbacks=[TensorBoard(log_dir=str(tmp_path), update_freq=3)])
    train = _read(tmp_path / "train")
    assert [s for s, _ in _scalars(train, "batch_loss")] == [3, 6]
    assert "batch_batch" not in train.Tags()["scalars"] and "batch_size" not in train.Tags()["scalars"]
    assert not os.path.exists(tmp_path / "validation")


def test_learning_rate_schedule_is_logged(tmp_path):
    from fitgen.optimizers.schedules import ExponentialDecay
    from fitgen.optimizers.sgd import SGD
    x, y = tiny_data(8)
    model = tiny_model(optimizer=SGD(learning_rate=ExponentialDecay(0.1, decay_steps=1, decay_rate=0.5)))
    model.fit(x, y, batch_size=4, epochs=2, verbose=0, callbacks=[TensorBoard(log_dir=str(tmp_path))])
    rates = [v for _, v in _scalars(_read(tmp_path / "train"), "epoch_learning_rate")]
    assert rates == pytest.approx([0.1 * 0.5 ** 2, 0.1 * 0.5 ** 4])


def test_evaluate_alone_closes_its_writer(tmp_path):
    x, y = tiny_data(8)
    model = tiny_model()
    model.evaluate(x, y, verbose=0, callbacks=[TensorBoard(log_dir=str(tmp_path))])
    assert "evaluation_loss_vs_iterations" in _read(tmp_path / "validation").Tags()["scalars"]


def test_bad_update_freq():
    with pytest.raises(ValueError, match="update_freq"):
        TensorBoard(update_freq="sometimes")


def test_missing_tensorboard_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    with pytest.raises(ImportError, match=r"pip install fitgen\[tensorboard\]"):
        TensorBoard()


def test_histograms_need_validation_data_as_in_keras2(tmp_path):
    # Keras 2.2.4's test_TensorBoard_histogram_freq_must_have_validation_data, for fit and fit_generator.
    import numpy as np

    x, y = tiny_data(8)
    model = tiny_model()

    def batches():
        while True:
            yield x[:4], y[:4]

    with pytest.raises(ValueError, match="validation_data must be provided"):
        model.fit(x, y, batch_size=4, epochs=2, verbose=0, callbacks=[TensorBoard(str(tmp_path), histogram_freq=1)])
    with pytest.raises(ValueError, match="validation_data must be provided"):
        model.fit_generator(batches(), steps_per_epoch=2, epochs=2, verbose=0,
                            callbacks=[TensorBoard(str(tmp_path), histogram_freq=1)])
    assert model.optimizer.iterations == 0  # refused before any training step
    # fitgen's histograms are of weights, so a validation generator is enough (Keras 2 wanted arrays).
    model.fit_generator(batches(), steps_per_epoch=2, epochs=1, verbose=0, validation_data=batches(),
                        validation_steps=1, callbacks=[TensorBoard(str(tmp_path), histogram_freq=1)])
    model.fit(x, y, epochs=1, verbose=0, callbacks=[TensorBoard(str(tmp_path / "none"), histogram_freq=0)])
    assert np.isfinite(model.evaluate(x, y, verbose=0)).all()
