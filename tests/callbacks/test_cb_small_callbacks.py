"""LambdaCallback, TerminateOnNaN, BaseLogger and RemoteMonitor."""
import http.server
import json
import threading
import urllib.parse
from typing import ClassVar

import numpy as np
import pytest
from cb_models import tiny_data, tiny_model

from fitgen.callbacks.base_logger import BaseLogger
from fitgen.callbacks.lambda_callback import LambdaCallback
from fitgen.callbacks.remote_monitor import RemoteMonitor
from fitgen.callbacks.terminate_on_nan import TerminateOnNaN


def test_lambda_callback_calls_functions_positionally():
    x, y = tiny_data(8)
    model = tiny_model()
    calls = []
    callback = LambdaCallback(
        on_train_begin=lambda logs: calls.append(("train_begin", dict(logs))),
        on_epoch_begin=lambda epoch, logs: calls.append(("epoch_begin", epoch)),
        on_batch_begin=lambda batch, logs: calls.append(("batch_begin", batch, sorted(logs))),
        on_batch_end=lambda batch, logs: calls.append(("batch_end", batch, sorted(logs))),
        on_epoch_end=lambda epoch, logs: calls.append(("epoch_end", epoch, sorted(logs))),
        on_train_end=lambda logs: calls.append(("train_end", sorted(logs))),
        on_test_end=lambda logs: calls.append(("test_end", sorted(logs))),
        note="kept as an attribute")
    model.fit(x, y, batch_size=4, epochs=1, verbose=0, validation_data=(x, y), callbacks=[callback])
    assert calls == [("train_begin", {}), ("epoch_begin", 0),
                     ("batch_begin", 0, ["batch", "size"]), ("batch_end", 0, ["acc", "batch", "loss", "size"]),
                     ("batch_begin", 1, ["batch", "size"]), ("batch_end", 1, ["acc", "batch", "loss", "size"]),
                     ("test_end", ["acc", "loss"]),
                     ("epoch_end", 0, ["acc", "loss", "val_acc", "val_loss"]),
                     ("train_end", ["acc", "loss", "val_acc", "val_loss"])]
    assert callback.note == "kept as an attribute"


def test_lambda_batch_hooks_fire_for_training_batches_only_and_extra_hooks_work():
    x, y = tiny_data(8)
    model = tiny_model()
    train_batches, test_batches, predicted = [], [], []
    callback = LambdaCallback(on_batch_end=lambda batch, logs: train_batches.append(batch),
                              on_test_batch_end=lambda batch, logs: test_batches.append(batch),
                              on_predict_batch_end=lambda batch, logs: predicted.append(logs["outputs"][0].shape))
    model.fit(x, y, batch_size=4, epochs=1, verbose=0, validation_data=(x, y), callbacks=[callback])
    model.predict(x, batch_size=8, callbacks=[callback])
    assert train_batches == [0, 1] and test_batches == [0, 1]
    assert [tuple(s) for s in predicted] == [(8, 1)]


def test_lambda_rejects_non_callables():
    with pytest.raises(TypeError, match="`on_epoch_end` must be callable"):
        LambdaCallback(on_epoch_end=3)


def test_terminate_on_nan_stops_in_the_batch(capsys):
    x, y = tiny_data(16)
    x[6] = np.nan  # the second batch of 4 produces a NaN loss
    model = tiny_model()
    batches = []
    history = model.fit(x, y, batch_size=4, epochs=3, shuffle=False, verbose=0,
                        callbacks=[TerminateOnNaN(), LambdaCallback(on_batch_end=lambda b, logs: batches.append(b))])
    assert batches == [0, 1]
    assert history.epoch == [0] and np.isnan(history.history["loss"][0])
    assert capsys.readouterr().out == "Batch 1: Invalid loss, terminating training\n"


def test_terminate_on_nan_catches_infinity():
    model = tiny_model()
    callback = TerminateOnNaN()
    callback.set_model(model)
    model.stop_training = False
    callback.on_batch_end(0, {"loss": 1.0})
    assert not model.stop_training
    callback.on_batch_end(1, {"loss": float("inf")})
    assert model.stop_training


def test_base_logger_averages_by_batch_size():
    logger = BaseLogger(stateful_metrics=["acc"])
    logger.set_params({"metrics": ["loss", "acc"]})
    logger.on_epoch_begin(0)
    logger.on_batch_end(0, {"batch": 0, "size": 3, "loss": 1.0, "acc": 0.2})
    logger.on_batch_end(1, {"batch": 1, "size": 1, "loss": 3.0, "acc": 0.9})
    logs = {}
    logger.on_epoch_end(0, logs)
    assert logs == {"loss": pytest.approx(1.5), "acc": 0.9}


class _Recorder(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list] = []

    def do_POST(self):
        length = int(self.headers["Content-Length"])
        self.received.append((self.headers["Content-Type"], self.rfile.read(length).decode()))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("as_json", [False, True])
def test_remote_monitor_posts_epoch_logs(as_json):
    server = http.server.HTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, name="remote-monitor-test")
    thread.start()
    _Recorder.received = []
    try:
        monitor = RemoteMonitor(root=f"http://127.0.0.1:{server.server_port}", send_as_json=as_json)
        monitor.on_epoch_end(2, {"loss": np.float32(0.5), "acc": 1.0})
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
    (content_type, body), = _Recorder.received
    if as_json:
        assert content_type == "application/json" and json.loads(body) == {"epoch": 2, "loss": 0.5, "acc": 1.0}
    else:
        form = urllib.parse.parse_qs(body)
        assert json.loads(form["data"][0]) == {"epoch": 2, "loss": 0.5, "acc": 1.0}


def test_remote_monitor_unreachable_server_warns():
    monitor = RemoteMonitor(root="http://127.0.0.1:9", timeout=2)
    with pytest.warns(RuntimeWarning, match="could not reach RemoteMonitor root server"):
        monitor.on_epoch_end(0, {"loss": 1.0})
