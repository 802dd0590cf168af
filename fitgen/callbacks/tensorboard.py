"""`TensorBoard`: writes event files in tf-keras 2.21's layout, read by the `tensorboard` program.

Layout: `log_dir/train` and `log_dir/validation`, each with its own event file. Epoch values are scalars
named `epoch_<key>` at step = epoch (validation values go to the validation writer without their 'val_'
prefix); batch values are `batch_<key>` at step = optimizer iterations; weight histograms are
`<layer>/<weight>_0/histogram`. Writing uses `torch.utils.tensorboard.SummaryWriter` (needs `tensorboard`).
"""
import os

import numpy as np

from fitgen.callbacks.callback import Callback
from fitgen.distribute.context import is_chief

_NOT_SCALARS = ("batch", "size")
_INSTALL = ("The TensorBoard callback needs the `tensorboard` package. Install it with "
            "`pip install fitgen[tensorboard]` (or `pip install tensorboard`).")


def _summary_writer_class():
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as error:
        raise ImportError(_INSTALL) from error
    return SummaryWriter


class TensorBoard(Callback):
    """Enable visualizations for TensorBoard: metric curves and weight histograms.

    Args:
        log_dir: folder of the event files (`log_dir/train`, `log_dir/validation`).
        histogram_freq: every how many epochs to write weight histograms (0: never); needs validation data
            in `fit`, as in Keras 2.
        write_graph: accepted for Keras compatibility; fitgen writes no graph.
        write_images: accepted for Keras compatibility; fitgen writes no weight images.
        write_steps_per_second: also log training steps per second at each epoch end.
        update_freq: 'epoch' (scalars at each epoch end), 'batch' or an integer N: also write the batch logs
            (`batch_<name>`) every N training batches.
        profile_batch, embeddings_freq, embeddings_metadata, batch_size, write_grads, embeddings_layer_names,
            embeddings_data: accepted for Keras 2 compatibility; ignored.

    Raises:
        ImportError: when the `tensorboard` package is missing (the message names `pip install
            fitgen[tensorboard]`).
        ValueError: for an `update_freq` that is neither 'epoch', 'batch' nor a positive integer; when training
            starts, for `histogram_freq > 0` in a fit without validation data (as Keras 2 did).
    """

    # Batch logs are materialised (a device sync) only on the batches that are written.
    _lazy_batch_logs = True

    def __init__(self, log_dir="logs", histogram_freq=0, write_graph=True, write_images=False,
                 write_steps_per_second=False, update_freq="epoch", profile_batch=0, embeddings_freq=0,
                 embeddings_metadata=None, batch_size=None, write_grads=False, embeddings_layer_names=None,
                 embeddings_data=None):
        super().__init__()
        self._writer_class = _summary_writer_class()
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = histogram_freq
        self.write_graph = write_graph
        self.write_images = write_images
        self.write_steps_per_second = write_steps_per_second
        if update_freq == "batch":
            update_freq = 1
        if update_freq != "epoch" and (not isinstance(update_freq, int) or isinstance(update_freq, bool)
                                       or update_freq < 1):
            raise ValueError("Expected `update_freq` to be 'epoch', 'batch' or a positive integer. "
                             f"Received: update_freq={update_freq!r}")
        self.update_freq = update_freq
        self._writers = {}
        self._training = False
        self._epoch_start = None
        self._epoch_start_iterations = 0

    def _writer(self, which):
        if not is_chief():
            return _NullWriter()  # under torchrun only rank 0 writes event files
        writer = self._writers.get(which)
        if writer is None:
            writer = self._writer_class(log_dir=os.path.join(self.log_dir, which))
            self._writers[which] = writer
        return writer

    def _close_writers(self):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

    def _iterations(self):
        optimizer = getattr(self.model, "optimizer", None)
        return int(optimizer.iterations) if optimizer is not None and hasattr(optimizer, "iterations") else 0

    def on_train_begin(self, logs=None):
        if self.histogram_freq and not (self.params or {}).get("do_validation", True):
            # Keras 2 refused histograms in a fit without validation data (it raised after the first epoch);
            # fitgen refuses before training starts. A validation generator is fine here.
            raise ValueError(f"If printing histograms, validation_data must be provided: "
                             f"TensorBoard(histogram_freq={self.histogram_freq}) was used in a fit without "
                             "validation data. Pass `validation_data` (or `validation_split`), or set "
                             "histogram_freq=0.")
        self._training = True
        self._writer("train")

    def on_train_end(self, logs=None):
        self._training = False
        self._close_writers()

    def on_epoch_begin(self, epoch, logs=None):
        if self.write_steps_per_second:
            import time
            self._epoch_start = time.perf_counter()
            self._epoch_start_iterations = self._iterations()

    def on_train_batch_end(self, batch, logs=None):
        if self.update_freq == "epoch":
            return
        step = self._iterations()
        if step % self.update_freq:
            return
        logs = logs() if callable(logs) else (logs or {})
        writer = self._writer("train")
        for name, value in logs.items():
            if name not in _NOT_SCALARS:
                writer.add_scalar("batch_" + name, _scalar(value), global_step=step)

    def on_test_begin(self, logs=None):
        self._writer("validation")

    def on_test_end(self, logs=None):
        step = self._iterations()
        writer = self._writer("validation")
        for name, value in (logs or {}).items():
            writer.add_scalar(f"evaluation_{name}_vs_iterations", _scalar(value), global_step=step)
        if not self._training:
            # evaluate() outside fit: nothing will call on_train_end to close the writer thread.
            self._close_writers()

    def on_epoch_end(self, epoch, logs=None):
        self._log_epoch_metrics(epoch, logs or {})
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._log_weights(epoch)
        for writer in self._writers.values():
            writer.flush()

    def _log_epoch_metrics(self, epoch, logs):
        if not logs:
            return
        train_logs = {k: v for k, v in logs.items() if not k.startswith("val_") and k not in _NOT_SCALARS}
        val_logs = {k[4:]: v for k, v in logs.items() if k.startswith("val_")}
        optimizer = getattr(self.model, "optimizer", None)
        schedule = getattr(optimizer, "_schedule", None)
        if schedule is not None:
            train_logs["learning_rate"] = float(schedule(self._iterations()))
        if self.write_steps_per_second and self._epoch_start is not None:
            import time
            elapsed = max(time.perf_counter() - self._epoch_start, 1e-9)
            train_logs["steps_per_second"] = (self._iterations() - self._epoch_start_iterations) / elapsed
        if train_logs:
            writer = self._writer("train")
            for name, value in train_logs.items():
                writer.add_scalar("epoch_" + name, _scalar(value), global_step=epoch)
        if val_logs:
            writer = self._writer("validation")
            for name, value in val_logs.items():
                writer.add_scalar("epoch_" + name, _scalar(value), global_step=epoch)

    def _log_weights(self, epoch):
        writer = self._writer("train")
        for layer in self.model.layers:
            for weight in layer.weights:
                name = weight.name.replace(":", "_")
                writer.add_histogram(name + "/histogram", np.asarray(weight.numpy()), global_step=epoch)


class _NullWriter:
    def add_scalar(self, *args, **kwargs):
        pass

    add_histogram = add_scalar


def _scalar(value):
    if hasattr(value, "item"):
        value = value.item()
    return float(value)
