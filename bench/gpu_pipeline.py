"""GPU feeding: is the CPU input pipeline hidden behind the training step?

A small CNN (fitgen) is trained on batches that CPU process workers make and augment (random crop,
flip, brightness; NumPy), and on the same number of batches already resident on the GPU. Runs:

  resident        the train step on batches already on the device: the step-time floor.
  fit             model.fit(sequence, workers=N, use_multiprocessing=True): the engine end to end.
  prefetcher      the same step fed by Prefetcher(sequence, device='cuda'): pinned shared-memory slots,
                  host->device copy of batch k+1 on a side stream while step k runs.

Reports each run's median step time, its ratio to `resident` (target: within 5%), the host->device
copy time of one batch, and whether the copy overlaps: a fed step costing less than resident + half a
copy means the copy is hidden. Prints 'no CUDA device: skipped' and exits 0 without CUDA.

Usage: python bench/gpu_pipeline.py [--batch-size 128] [--image-size 96] [--steps 100] [--workers N]
Writes bench/results/gpu_pipeline.json.
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from fitgen.utils import Sequence


class AugmentedImages(Sequence):
    """Random crops (from images padded by 8), horizontal flips and brightness jitter of a fixed image pool.

    Workers are reseeded per batch by fitgen, so the augmentation is random but reproducible.
    """

    def __init__(self, batches, batch_size, size, pool=512):
        rng = np.random.default_rng(0)
        self.batches, self.batch_size, self.size = batches, batch_size, size
        self.images = rng.random((pool, size + 16, size + 16, 3), dtype=np.float32)
        self.labels = rng.integers(0, 10, size=(pool,))

    def __len__(self):
        return self.batches

    def __getitem__(self, index):
        picks = np.random.randint(0, len(self.images), self.batch_size)
        out = np.empty((self.batch_size, self.size, self.size, 3), np.float32)
        for row, pick in enumerate(picks):
            top, left = np.random.randint(0, 17, 2)
            crop = self.images[pick, top:top + self.size, left:left + self.size]
            out[row] = crop[:, ::-1] if np.random.rand() < 0.5 else crop
        out *= np.random.uniform(0.8, 1.2, (self.batch_size, 1, 1, 1)).astype(np.float32)
        return out, self.labels[picks]


def small_cnn(size):
    import fitgen
    from fitgen.layers import Conv2D, Dense, GlobalAveragePooling2D, MaxPooling2D
    fitgen.backend.set_random_seed(0)
    model = fitgen.Sequential([
        Conv2D(32, 3, padding="same", activation="relu", input_shape=(size, size, 3)),
        MaxPooling2D(),
        Conv2D(64, 3, padding="same", activation="relu"),
        MaxPooling2D(),
        Conv2D(128, 3, padding="same", activation="relu"),
        GlobalAveragePooling2D(),
        Dense(10, activation="softmax"),
    ])
    model.compile("sgd", "sparse_categorical_crossentropy")
    return model


def _device_batch(model, x, y, device):
    """(x_list, y_list, sample_weight_list) on the device: the structure the engine's train step takes."""
    import torch
    return ([torch.as_tensor(x, device=device)], [torch.as_tensor(y, device=device)], [None])


def _timed_steps(batches, step, warmup):
    """Median seconds per step after `warmup` steps, every step synchronised (honest per-step time)."""
    import torch
    times = []
    started = None
    for count, batch in enumerate(batches):
        step(*batch)
        torch.cuda.synchronize()
        now = time.perf_counter()
        if started is not None and count > warmup:
            times.append(now - started)
        started = now
    return statistics.median(times)


def run_resident(sequence, device, steps):
    model = small_cnn(sequence.size)
    model.to(device)
    step = model._make_train_step()
    resident = [_device_batch(model, *sequence[i % 8], device) for i in range(8)]
    return _timed_steps((resident[i % 8] for i in range(steps)), step, warmup=5)


def run_prefetcher(sequence, device, steps, workers):
    from fitgen.data.pipeline import Prefetcher
    model = small_cnn(sequence.size)
    model.to(device)
    step = model._make_train_step()
    with Prefetcher(sequence, workers=workers, use_multiprocessing=True, max_queue_size=10,
                    device=device) as prefetcher:
        batches = ((([x], [y.long()], [None])) for x, y in prefetcher.iter_epoch(0, steps))
        return _timed_steps(batches, step, warmup=5)


def run_fit(sequence, device, steps, workers):
    """model.fit end to end; per-step time from batch-end callbacks, synchronised like the others."""
    import torch

    from fitgen.callbacks import Callback
    model = small_cnn(sequence.size)
    model.to(device)
    ends = []

    class StepTimer(Callback):
        def on_train_batch_end(self, batch, logs=None):
            torch.cuda.synchronize()
            ends.append(time.perf_counter())

    model.fit(sequence, steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False, workers=workers,
              use_multiprocessing=True, max_queue_size=10, callbacks=[StepTimer()])
    gaps = np.diff(ends)[5:]
    return float(np.median(gaps))


def copy_time(sequence, device):
    """Host->device time of one batch from pinned memory (what an overlapped pipeline hides)."""
    import torch
    x, _y = sequence[0]
    pinned = torch.from_numpy(x).pin_memory()
    times = []
    for _ in range(10):
        torch.cuda.synchronize()
        started = time.perf_counter()
        pinned.to(device, non_blocking=True)
        torch.cuda.synchronize()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--image-size", type=int, default=96)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--workers", type=int, default=max(1, min(8, (os.cpu_count() or 2) - 1)))
    parser.add_argument("--output", default=os.path.join(ROOT, "bench", "results", "gpu_pipeline.json"))
    args = parser.parse_args(argv)
    import torch
    if not torch.cuda.is_available():
        print("no CUDA device: skipped")
        return 0
    device = torch.device("cuda")
    sequence = AugmentedImages(args.steps, args.batch_size, args.image_size)
    started = time.perf_counter()
    for i in range(5):
        sequence[i]
    make = (time.perf_counter() - started) / 5
    rows = {"resident": run_resident(sequence, device, args.steps),
            "fit": run_fit(sequence, device, args.steps, args.workers),
            "prefetcher": run_prefetcher(sequence, device, args.steps, args.workers)}
    copy = copy_time(sequence, device)
    base = rows["resident"]
    print(f"{torch.cuda.get_device_name(device)}; {os.cpu_count()} CPUs; {args.workers} process workers; batch "
          f"{args.batch_size}x{args.image_size}x{args.image_size}x3 ({sequence[0][0].nbytes / 1e6:.1f} MB), one "
          f"batch made in {1000 * make:.1f} ms on one core, copied in {1000 * copy:.2f} ms")
    print(f"{'run':12s} {'ms/step':>8s} {'vs resident':>12s} {'copy hidden':>12s}")
    results = {"machine": {"gpu": torch.cuda.get_device_name(device), "cpus": os.cpu_count(),
                           "python": platform.python_version(), "torch": torch.__version__},
               "args": vars(args), "make_ms": 1000 * make, "copy_ms": 1000 * copy, "runs": {}}
    for name, seconds in rows.items():
        ratio = seconds / base
        hidden = "" if name == "resident" else ("yes" if seconds < base + copy / 2 else "no")
        results["runs"][name] = {"ms_per_step": 1000 * seconds, "vs_resident": ratio, "copy_hidden": hidden}
        print(f"{name:12s} {1000 * seconds:8.2f} {ratio:11.3f}x {hidden:>12s}")
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output, "w") as handle:
        json.dump(results, handle, indent=2)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
