"""fit()'s arguments with Keras 2 semantics (spec §1)."""
import io
import contextlib

import numpy as np
import pytest
import torch

from fitgen import callbacks as cbks
from fitgen.data.arrays import ArrayAdapter
from fitgen.engine.sequential import Sequential
from fitgen.layers import Dense, Dropout, Input, Lambda
from fitgen.models import Model


def tiny(units=1, activation=None, loss="mse", metrics=None, input_dim=3, optimizer="sgd"):
    model = Sequential([Dense(units, input_shape=(input_dim,), activation=activation)])
    model.compile(optimizer, loss, metrics)
    return model


class Recorder(cbks.Callback):
    def __init__(self):
        super().__init__()
        self.sizes, self.epochs = [], []

    def on_train_batch_end(self, batch, logs=None):
        self.sizes.append(logs["size"])

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs.append(epoch)


def data(n=100, d=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)).astype("float32")
    return x, (x @ np.array([1., -2., .5][:d], dtype="float32")).reshape(-1, 1)


def test_epochs_is_the_final_epoch_index_and_console_counts_from_initial_epoch():
    x, y = data()
    model = tiny()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        history = model.fit(x, y, epochs=10, initial_epoch=7, verbose=1)
    assert history.epoch == [7, 8, 9]
    assert len(history.history["loss"]) == 3
    text = out.getvalue()
    assert "Epoch 8/10" in text and "Epoch 10/10" in text and "Epoch 7/10" not in text


def test_initial_epoch_at_or_past_epochs_runs_nothing_but_train_hooks():
    x, y = data()
    seen = []
    probe = cbks.Callback()
    probe.on_train_begin = lambda logs=None: seen.append("begin")
    probe.on_train_end = lambda logs=None: seen.append("end")

    class Probe(cbks.Callback):
        def on_train_begin(self, logs=None):
            seen.append("begin")

        def on_train_end(self, logs=None):
            seen.append("end")

    history = tiny().fit(x, y, epochs=3, initial_epoch=3, verbose=0, callbacks=[Probe()])
    assert history.epoch == [] and history.history == {} and seen == ["begin", "end"]


def test_default_batch_size_32_and_a_smaller_last_batch():
    x, y = data(100)
    recorder = Recorder()
    tiny().fit(x, y, epochs=1, verbose=0, callbacks=[recorder])
    assert recorder.sizes == [32, 32, 32, 4]


def test_epoch_loss_is_the_sample_weighted_mean_of_batch_losses():
    x, y = data(10)
    model = tiny()
    model.optimizer.lr = 0.0  # no update: each batch loss is the loss of the same weights
    history = model.fit(x, y, batch_size=4, epochs=1, verbose=0, shuffle=False)
    per_sample = ((model.predict(x) - y) ** 2).ravel()
    batch_means = [per_sample[0:4].mean(), per_sample[4:8].mean(), per_sample[8:10].mean()]
    expected = (4 * batch_means[0] + 4 * batch_means[1] + 2 * batch_means[2]) / 10
    np.testing.assert_allclose(history.history["loss"][0], expected, rtol=1e-5)


def test_validation_split_takes_the_last_samples_before_shuffling():
    x, y = data(100)
    y[80:] += 100.0  # the last 20 samples are far off: only they may appear in val_loss
    model = tiny()
    model.optimizer.lr = 0.0
    history = model.fit(x, y, validation_split=0.2, epochs=1, verbose=0, shuffle=True)
    val = model.evaluate(x[80:], y[80:], verbose=0)
    train = model.evaluate(x[:80], y[:80], verbose=0)
    np.testing.assert_allclose(history.history["val_loss"][0], val, rtol=1e-5)
    np.testing.assert_allclose(history.history["loss"][0], train, rtol=1e-5)


def test_validation_data_overrides_validation_split_and_accepts_sample_weights():
    x, y = data(60)
    model = tiny()
    model.optimizer.lr = 0.0
    w = np.zeros(20, dtype="float32")
    w[:10] = 2.0
    history = model.fit(x[:40], y[:40], validation_data=(x[40:], y[40:], w), validation_split=0.5, epochs=1,
                        verbose=0)
    expected = model.evaluate(x[40:], y[40:], sample_weight=w, verbose=0)
    np.testing.assert_allclose(history.history["val_loss"][0], expected, rtol=1e-5)
    assert list(history.history) == ["loss", "val_loss"]


def test_validation_freq_int_and_container():
    x, y = data(20)
    h = tiny().fit(x, y, validation_data=(x, y), epochs=4, validation_freq=2, verbose=0)
    assert len(h.history["val_loss"]) == 2 and len(h.history["loss"]) == 4
    h = tiny().fit(x, y, validation_data=(x, y), epochs=4, validation_freq=[1, 4], verbose=0)
    assert len(h.history["val_loss"]) == 2


def test_history_object_params_and_model_history():
    x, y = data(20)
    model = tiny(metrics=["mae"])
    history = model.fit(x, y, epochs=2, batch_size=5, verbose=0, validation_data=(x, y))
    assert model.history is history
    assert list(history.history) == ["loss", "mae", "val_loss", "val_mae"]
    assert history.params["epochs"] == 2 and history.params["steps"] == 4
    assert all(isinstance(v, float) for values in history.history.values() for v in values)


def _epoch_orders(shuffle, n=10, batch_size=4, epochs=2):
    x = torch.arange(n).reshape(-1, 1)
    adapter = ArrayAdapter([x], [x], [None], batch_size=batch_size, shuffle=shuffle, device=torch.device("cpu"))
    return [[b[0][0].ravel().tolist() for b in adapter.epoch_batches(e)] for e in range(epochs)]


def test_shuffle_false_keeps_order():
    assert _epoch_orders(False)[0] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_shuffle_true_reshuffles_each_epoch_and_sees_every_sample_once():
    first, second = _epoch_orders(True, n=50, batch_size=8)
    assert sorted(sum(first, [])) == list(range(50)) and sorted(sum(second, [])) == list(range(50))
    assert sum(first, []) != sum(second, [])


def test_shuffle_batch_moves_whole_contiguous_chunks_and_keeps_the_partial_chunk_last():
    for epoch in _epoch_orders("batch", n=18, batch_size=4, epochs=3):
        assert epoch[-1] == [16, 17]
        for chunk in epoch[:-1]:
            assert chunk == list(range(chunk[0], chunk[0] + 4)) and chunk[0] % 4 == 0
        assert sorted(c[0] for c in epoch[:-1]) == [0, 4, 8, 12]


def test_steps_per_epoch_with_arrays_draws_that_many_batches_continuing_across_epochs():
    x = torch.arange(10).reshape(-1, 1)
    adapter = ArrayAdapter([x], [x], [None], batch_size=4, shuffle=False, steps=2, device=torch.device("cpu"))
    epochs = [[b[0][0].ravel().tolist() for b in adapter.epoch_batches(e)] for e in range(2)]
    assert epochs == [[[0, 1, 2, 3], [4, 5, 6, 7]], [[8, 9], [0, 1, 2, 3]]]
    recorder = Recorder()
    xs, ys = data(100)
    tiny().fit(xs, ys, steps_per_epoch=3, epochs=2, verbose=0, callbacks=[recorder])
    assert recorder.sizes == [34, 34, 32] * 2  # tf-keras: batch_size defaults to ceil(samples / steps)
    recorder = Recorder()
    tiny().fit(xs, ys, steps_per_epoch=2, batch_size=40, epochs=2, verbose=0, callbacks=[recorder])
    assert recorder.sizes == [40, 40, 20, 40]


def test_dict_inputs_and_outputs_route_by_layer_name():
    a, b = Input((2,), name="left"), Input((3,), name="right")
    from fitgen.layers import concatenate
    h = concatenate([a, b])
    model = Model([a, b], [Dense(1, name="out_a")(h), Dense(2, name="out_b")(h)])
    model.compile("sgd", {"out_a": "mse", "out_b": "mae"})
    rng = np.random.default_rng(0)
    xa, xb = rng.random((8, 2)), rng.random((8, 3))
    ya, yb = rng.random((8, 1)), rng.random((8, 2))
    by_dict = model.evaluate({"right": xb, "left": xa}, {"out_b": yb, "out_a": ya}, verbose=0)
    by_list = model.evaluate([xa, xb], [ya, yb], verbose=0)
    np.testing.assert_allclose(by_dict, by_list)
    assert model.metrics_names == ["loss", "out_a_loss", "out_b_loss"]


def test_torch_tensors_are_accepted_as_data():
    x, y = data(20)
    model = tiny()
    history = model.fit(torch.from_numpy(x), torch.from_numpy(y), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert model.predict(torch.from_numpy(x)).shape == (20, 1)


def test_sample_weight_and_class_weight_multiply():
    x = np.eye(4, dtype="float32")
    y = np.eye(2, dtype="float32")[[0, 1, 1, 0]]
    model = Sequential([Dense(2, input_shape=(4,), activation="softmax")])
    model.compile("sgd", "categorical_crossentropy")
    model.optimizer.lr = 0.0
    sw = np.array([1., 2., 3., 4.], dtype="float32")
    cw = {0: 0.5, 1: 2.0}
    history = model.fit(x, y, sample_weight=sw, class_weight=cw, batch_size=4, epochs=1, verbose=0)
    per_sample = -np.log((model.predict(x) * y).sum(1))
    weights = sw * np.array([0.5, 2.0, 2.0, 0.5])
    np.testing.assert_allclose(history.history["loss"][0], (weights * per_sample).sum() / 4, rtol=1e-5)


def test_nan_loss_is_reported_in_history():
    x, y = data(8)
    y[3] = np.nan
    history = tiny().fit(x, y, epochs=1, verbose=0)
    assert np.isnan(history.history["loss"][0])


def test_exception_mid_fit_keeps_last_completed_step_and_history():
    x, y = data(64)
    model = tiny()
    snapshots = []

    class Boom(cbks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            snapshots.append([w.copy() for w in self.model.get_weights()])
            if len(snapshots) == 6:
                raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full") as info:
        model.fit(x, y, batch_size=16, epochs=3, verbose=0, callbacks=[Boom()])
    assert any("Boom" in note for note in getattr(info.value, "__notes__", ["Boom"]))
    for mine, saved in zip(model.get_weights(), snapshots[-1]):
        np.testing.assert_array_equal(mine, saved)
    assert model.history.epoch == [0]


def test_dropout_is_active_in_training_only():
    model = Sequential([Dropout(0.5, input_shape=(1000,))])
    model.compile("sgd", "mse")
    x = np.ones((4, 1000), dtype="float32")
    np.testing.assert_array_equal(model.predict(x), x)
    model.train()
    out = model(torch.from_numpy(x)).detach().numpy()
    assert 0.3 < (out == 0).mean() < 0.7


def test_verbose_2_prints_one_line_per_epoch_and_no_control_characters():
    x, y = data(40)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        tiny(metrics=["mae"]).fit(x, y, epochs=2, batch_size=10, verbose=2, validation_data=(x, y))
    lines = out.getvalue().splitlines()
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2"
    assert lines[1].startswith("4/4 - ") and " - loss: " in lines[1] and " - val_mae: " in lines[1]
    assert "\r" not in out.getvalue() and "\b" not in out.getvalue()


def test_verbose_1_in_a_non_terminal_prints_whole_lines_matching_history():
    x, y = data(40)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        history = tiny().fit(x, y, epochs=1, batch_size=10, verbose=1)
    text = out.getvalue()
    assert "\r" not in text and "\b" not in text
    final = text.splitlines()[-1]
    assert final.startswith("4/4 [==============================] - ")
    assert f"loss: {history.history['loss'][0]:.4f}" in final


def test_lambda_layer_model_trains():
    model = Sequential([Dense(2, input_shape=(3,)), Lambda(lambda t: t * 2.0)])
    model.compile("sgd", "mse")
    x, _ = data(10)
    assert model.predict(x).shape == (10, 2)
