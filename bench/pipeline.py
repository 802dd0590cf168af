"""Input-pipeline throughput: the same Sequence through fitgen's Prefetcher and its peers.

Workloads (the issue's):
  cpu  batches of 32 images 64x64x3 float32, each costing ~20 ms of NumPy work (FFT low-pass filter);
       measures parallel speed-up (target: 2 process workers >= 1.8x one producer).
  big  batches of 64 images 224x224x3 float32 (38.5 MB) that are free to make (views of a few
       preallocated arrays); measures transport (target: >= 4 GB/s with 2 process workers).

Columns: fitgen's Prefetcher workers=0 / 2 threads / 2 processes, torch DataLoader (2 workers,
persistent), and Keras 3 PyDataset / tf-keras Sequence enqueuer when importable (skipped otherwise): the
consumer only touches each batch (one element), so these are the pipeline's ceiling. Then end to end:
fitgen `model.fit(sequence)` with workers=0 / 2 threads / 2 processes training a tiny model
(GlobalAveragePooling2D + Dense(10)), and tf-keras `model.fit(sequence, workers=2,
use_multiprocessing=True)` on the same model in the interpreter named by FITGEN_TFKERAS_PYTHON (tf-keras
lives in its own venv, without torch or fitgen; skipped when unset). Every runner is warmed up with one
epoch, then timed over `--repeats` epochs; the median is reported. The Keras 3 column needs an interpreter
with Keras 3 (run this script with it and KERAS_BACKEND=torch); it is reported as skipped otherwise.

Usage: python bench/pipeline.py [--workload cpu big] [--batches 60] [--repeats 3]
Writes bench/results/pipeline.json.
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fitgen.data.pipeline import Prefetcher  # noqa: E402
from fitgen.data.sequence import Sequence  # noqa: E402


class CpuSequence(Sequence):
    """Random images, low-pass filtered through an FFT: ~20 ms of NumPy per batch."""

    shape = (32, 64, 64, 3)

    def __init__(self, batches):
        self.batches = batches

    def __len__(self):
        return self.batches

    def __getitem__(self, index):
        rng = np.random.default_rng(index)
        images = rng.random(self.shape, dtype=np.float32)
        spectrum = np.fft.rfft2(images, axes=(1, 2))
        spectrum[:, 16:48] = 0
        filtered = np.fft.irfft2(spectrum, s=self.shape[1:3], axes=(1, 2)).astype(np.float32)
        return filtered, rng.integers(0, 10, size=(self.shape[0],))


class BigSequence(Sequence):
    """38.5 MB batches that cost nothing to make: the transport is all that is measured."""

    shape = (64, 224, 224, 3)

    def __init__(self, batches):
        self.batches = batches
        self.pool = [np.full(self.shape, k, np.float32) for k in range(3)]
        self.labels = np.zeros((self.shape[0],), np.int64)

    def __len__(self):
        return self.batches

    def __getitem__(self, index):
        return self.pool[index % 3], self.labels


WORKLOADS = {"cpu": CpuSequence, "big": BigSequence}


def _touch(batch):
    x = batch[0]
    return float(x.reshape(-1)[0])


def _timed_epochs(run_epoch, repeats):
    run_epoch()  # warm-up: starts workers, grows shared-memory slots, fills caches
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run_epoch()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def run_fitgen(sequence, repeats, **options):
    with Prefetcher(sequence, max_queue_size=10, **options) as prefetcher:
        epoch = iter(range(1000))

        def run_epoch():
            for batch in prefetcher.iter_epoch(next(epoch)):
                _touch(batch)
        return _timed_epochs(run_epoch, repeats)


def run_torch_dataloader(sequence, repeats, workers=2):
    import torch
    from torch.utils.data import DataLoader
    from torch.utils.data import Dataset

    class Batches(Dataset):
        def __len__(self):
            return len(sequence)

        def __getitem__(self, index):
            return sequence[index]

    loader = DataLoader(Batches(), batch_size=None, num_workers=workers, persistent_workers=True,
                        prefetch_factor=5)

    def run_epoch():
        for batch in loader:
            _touch([b.numpy() if isinstance(b, torch.Tensor) else b for b in batch])
    try:
        return _timed_epochs(run_epoch, repeats)
    finally:
        del loader


def run_keras3(sequence, repeats, workers=2):
    import keras  # noqa: F401  (Keras 3 only)
    from keras.src.trainers.data_adapters.py_dataset_adapter import PyDatasetAdapter

    class Batches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__(workers=workers, use_multiprocessing=True, max_queue_size=10)

        def __len__(self):
            return len(sequence)

        def __getitem__(self, index):
            return sequence[index]

    adapter = PyDatasetAdapter(Batches(), shuffle=False)

    def run_epoch():
        for batch in adapter.get_numpy_iterator():
            _touch(batch)
        adapter.on_epoch_end()
    return _timed_epochs(run_epoch, repeats)


def run_tf_keras(sequence, repeats, workers=2):
    from tf_keras.src.utils.data_utils import OrderedEnqueuer
    from tf_keras.src.utils.data_utils import Sequence as TfkSequence

    class Batches(TfkSequence):
        def __len__(self):
            return len(sequence)

        def __getitem__(self, index):
            return sequence[index]

    enqueuer = OrderedEnqueuer(Batches(), use_multiprocessing=True, shuffle=False)
    enqueuer.start(workers=workers, max_queue_size=10)
    output = enqueuer.get()

    def run_epoch():
        for _ in range(len(sequence)):
            _touch(next(output))
    try:
        return _timed_epochs(run_epoch, repeats)
    finally:
        enqueuer.stop()


def tiny_model(shape):
    """The 'tiny model' the fit columns train: global average pooling and a 10-way softmax."""
    import fitgen
    from fitgen.layers import Dense, GlobalAveragePooling2D
    fitgen.backend.set_random_seed(0)
    model = fitgen.Sequential([GlobalAveragePooling2D(input_shape=shape), Dense(10, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy")
    return model


def _epoch_times(repeats):
    """A fitgen callback timing each epoch, and the median of all but the first (the warm-up)."""
    from fitgen.callbacks import Callback

    class EpochTimer(Callback):
        def __init__(self):
            super().__init__()
            self.times = []

        def on_epoch_begin(self, epoch, logs=None):
            self._started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.times.append(time.perf_counter() - self._started)

    return EpochTimer()


def run_fitgen_fit(sequence, repeats, **options):
    """model.fit on the Sequence: the pipeline and a (cheap) training step, workers started once per fit."""
    model = tiny_model(sequence.shape[1:])
    timer = _epoch_times(repeats)
    model.fit(sequence, epochs=1 + repeats, shuffle=False, verbose=0, max_queue_size=10, callbacks=[timer],
              **options)
    return statistics.median(timer.times[1:])


TF_KERAS_SCRIPT = r"""
import json, statistics, sys, time
import numpy as np
import tf_keras as keras

workload, batches, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

class CpuSequence(keras.utils.Sequence):
    shape = (32, 64, 64, 3)
    def __len__(self):
        return batches
    def __getitem__(self, index):
        rng = np.random.default_rng(index)
        images = rng.random(self.shape, dtype=np.float32)
        spectrum = np.fft.rfft2(images, axes=(1, 2))
        spectrum[:, 16:48] = 0
        filtered = np.fft.irfft2(spectrum, s=self.shape[1:3], axes=(1, 2)).astype(np.float32)
        return filtered, rng.integers(0, 10, size=(self.shape[0],))

class BigSequence(keras.utils.Sequence):
    shape = (64, 224, 224, 3)
    def __init__(self):
        self.pool = [np.full(self.shape, k, np.float32) for k in range(3)]
        self.labels = np.zeros((self.shape[0],), np.int64)
    def __len__(self):
        return batches
    def __getitem__(self, index):
        return self.pool[index % 3], self.labels

class Timer(keras.callbacks.Callback):
    times = []
    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()
    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self.started)

sequence = CpuSequence() if workload == "cpu" else BigSequence()
model = keras.Sequential([keras.layers.GlobalAveragePooling2D(input_shape=sequence.shape[1:]),
                          keras.layers.Dense(10, activation="softmax")])
model.compile("sgd", "sparse_categorical_crossentropy")
model.fit(sequence, epochs=1 + repeats, shuffle=False, verbose=0, workers=2, use_multiprocessing=True,
          max_queue_size=10, callbacks=[Timer()])
print(json.dumps({"seconds": statistics.median(Timer.times[1:])}))
"""


def run_tf_keras_fit(sequence, repeats):
    """tf-keras model.fit(workers=2, use_multiprocessing=True) in the interpreter FITGEN_TFKERAS_PYTHON names
    (a separate venv: tf-keras and torch do not share one here); skipped when the variable is unset."""
    import subprocess
    python = os.environ.get("FITGEN_TFKERAS_PYTHON")
    if not python:
        raise ImportError("set FITGEN_TFKERAS_PYTHON", name="FITGEN_TFKERAS_PYTHON")
    workload = "cpu" if isinstance(sequence, CpuSequence) else "big"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    run = subprocess.run([python, "-c", TF_KERAS_SCRIPT, workload, str(len(sequence)), str(repeats)],
                         capture_output=True, text=True, env=env, timeout=1800)
    if run.returncode != 0:
        raise RuntimeError(f"tf-keras run failed:\n{run.stderr[-2000:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])["seconds"]


RUNNERS = [
    ("fitgen workers=0", lambda seq, r: run_fitgen(seq, r, workers=0)),
    ("fitgen 2 threads", lambda seq, r: run_fitgen(seq, r, workers=2)),
    ("fitgen 1 process", lambda seq, r: run_fitgen(seq, r, workers=1, use_multiprocessing=True)),
    ("fitgen 2 processes", lambda seq, r: run_fitgen(seq, r, workers=2, use_multiprocessing=True)),
    ("torch DataLoader 2 workers", run_torch_dataloader),
    ("Keras 3 PyDataset 2 processes", run_keras3),
    ("tf-keras enqueuer 2 processes", run_tf_keras),
    ("fitgen model.fit workers=0", lambda seq, r: run_fitgen_fit(seq, r, workers=0)),
    ("fitgen model.fit 2 threads", lambda seq, r: run_fitgen_fit(seq, r, workers=2)),
    ("fitgen model.fit 1 process", lambda seq, r: run_fitgen_fit(seq, r, workers=1, use_multiprocessing=True)),
    ("fitgen model.fit 2 processes", lambda seq, r: run_fitgen_fit(seq, r, workers=2, use_multiprocessing=True)),
    ("tf-keras model.fit 2 processes", lambda seq, r: run_tf_keras_fit(seq, r)),
]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workload", nargs="+", default=["cpu", "big"], choices=sorted(WORKLOADS))
    parser.add_argument("--batches", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output", default=os.path.join(os.path.dirname(__file__), "results", "pipeline.json"))
    args = parser.parse_args(argv)

    results = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                           "numpy": np.__version__}, "workloads": {}}
    for workload in args.workload:
        sequence = WORKLOADS[workload](args.batches)
        nbytes = sum(np.asarray(part).nbytes for part in sequence[0])
        rows = {}
        print(f"\n{workload}: {args.batches} batches of {nbytes / 1e6:.1f} MB, median of {args.repeats} epochs")
        print(f"{'runner':34s} {'batches/s':>10s} {'GB/s':>8s} {'vs 1 process':>13s}")
        for name, runner in RUNNERS:
            try:
                seconds = runner(sequence, args.repeats)
            except ImportError as error:
                rows[name] = {"skipped": f"not installed ({error.name})"}
                print(f"{name:34s} {'skipped: ' + str(error.name) + ' not installed':>33s}")
                continue
            rate = args.batches / seconds
            rows[name] = {"seconds_per_epoch": seconds, "batches_per_s": rate, "gb_per_s": rate * nbytes / 1e9}
            # For `big`, workers=0 and threads hand over the preallocated array itself (no transport at all),
            # so a ratio to them means nothing there.
            # The yardstick: the rate of one producer process (pipeline rows) / of fit with one.
            key = "fitgen model.fit 1 process" if "model.fit" in name else "fitgen 1 process"
            base = rows.get(key, {}).get("batches_per_s") if workload == "cpu" else None
            ratio = f"{rate / base:.2f}x" if base else ""
            print(f"{name:34s} {rate:10.1f} {rate * nbytes / 1e9:8.2f} {ratio:>13s}")
        results["workloads"][workload] = {"batch_bytes": nbytes, "batches": args.batches, "runners": rows}
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output, "w") as handle:
        json.dump(results, handle, indent=2)
    print(f"\nwrote {args.output}")


if __name__ == "__main__":
    main()
