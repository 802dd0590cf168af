"""Peak anonymous memory of one epoch streamed from a .npy memmap, for N = 2,000 and 20,000 images.

The images are 224x224x3 float32 (20,000 of them = 11.2 GiB, the seed's case). The file is created
sparse (np.lib.format.open_memmap without writing), so making it costs no disk time; its pages read as
zeros, which is all a memory measurement needs. Each case runs in a fresh child interpreter; a sampler
thread adds up RssAnon of that process and its workers every 5 ms and keeps the peak. Page cache
(file-backed) and the pipeline's shared-memory slots (RssShmem, bounded by max_queue_size + workers
batches) are reported separately.

Cases:
  sequence       Prefetcher over a Sequence reading batch i of the memmap (shuffled batch order, the
                 access pattern of fit(shuffle='batch')), 2 process workers.
  generator      Prefetcher over a generator that reads the file batch by batch, one producer process.
  fit            model.fit(memmap_x, y, batch_size=32, shuffle='batch') training a tiny model
                 (GlobalAveragePooling2D + Dense(10)) for one epoch.
  fit_generator  model.fit_generator over the file-reading generator, one producer process, one epoch.
  tf-keras fit   the same fit(shuffle='batch') in tf-keras, run by the interpreter named in
                 FITGEN_TFKERAS_PYTHON (a venv without torch/fitgen); only for N <= --tfkeras-max (it
                 copies the whole memmap into memory, so 20,000 images would need > 11 GiB).

Usage: python bench/memory.py [--sizes 2000 20000] [--batch-size 32]
Writes bench/results/memory.json. Target: the same peak for both sizes, under 600 MiB.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHAPE = (224, 224, 3)

CHILD = r"""
import json, os, sys, threading, time
import numpy as np
sys.path.insert(0, ROOT)
from fitgen.data.pipeline import Prefetcher
from fitgen.data.sequence import Sequence

path, case, batch_size = sys.argv[1], sys.argv[2], int(sys.argv[3])
peak = {"anon": 0, "shmem": 0}
stop = threading.Event()

def status(pid):
    values = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("RssAnon", "RssShmem")):
                    key, value = line.split(":")
                    values[key] = int(value.split()[0]) * 1024
    except OSError:
        pass
    return values

def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []

def sample():
    me = os.getpid()
    while not stop.is_set():
        pids = [me] + children(me)
        stats = [status(p) for p in pids]
        peak["anon"] = max(peak["anon"], sum(s.get("RssAnon", 0) for s in stats))
        peak["shmem"] = max(peak["shmem"], sum(s.get("RssShmem", 0) for s in stats))
        time.sleep(0.005)

class MemmapSequence(Sequence):
    def __init__(self, path, batch_size):
        self.x = np.load(path, mmap_mode="r")
        self.batch_size = batch_size
    def __len__(self):
        return -(-len(self.x) // self.batch_size)
    def __getitem__(self, i):
        x = np.asarray(self.x[i * self.batch_size:(i + 1) * self.batch_size])
        return x, np.zeros((len(x),), np.int64)

def file_generator(path, batch_size):
    x = np.load(path, mmap_mode="r")
    while True:
        for lo in range(0, len(x), batch_size):
            batch = np.array(x[lo:lo + batch_size])
            yield batch, np.zeros((len(batch),), np.int64)

def tiny_model():
    import fitgen
    from fitgen.layers import Dense, GlobalAveragePooling2D
    model = fitgen.Sequential([GlobalAveragePooling2D(input_shape=(224, 224, 3)), Dense(10, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy")
    return model

if case in ("fit", "fit workers=2", "fit_generator"):
    import torch
    model = tiny_model()  # built before the baseline: its import and weights are not the data's memory

baseline = status(os.getpid()).get("RssAnon", 0)
sampler = threading.Thread(target=sample, daemon=True)
sampler.start()
started = time.perf_counter()
steps = -(-len(np.load(path, mmap_mode="r")) // batch_size)
if case == "fit":
    x = np.load(path, mmap_mode="r")
    model.fit(x, np.zeros((len(x),), np.int64), batch_size=batch_size, shuffle="batch", epochs=1, verbose=0)
    batches = steps
elif case == "fit workers=2":
    # Out-of-core batches read by two process workers into shared-memory slots, as fit_generator's are.
    x = np.load(path, mmap_mode="r")
    model.fit(x, np.zeros((len(x),), np.int64), batch_size=batch_size, shuffle="batch", epochs=1, verbose=0,
              workers=2, use_multiprocessing=True)
    batches = steps
elif case == "fit_generator":
    model.fit_generator(file_generator(path, batch_size), steps_per_epoch=steps, epochs=1, verbose=0, workers=1,
                        use_multiprocessing=True, max_queue_size=10)
    batches = steps
else:
    if case == "sequence":
        source, options = MemmapSequence(path, batch_size), dict(workers=2, use_multiprocessing=True, shuffle=True)
        steps = None
    else:
        source, options = file_generator(path, batch_size), dict(workers=1, use_multiprocessing=True)
    with Prefetcher(source, max_queue_size=10, **options) as prefetcher:
        batches = 0
        for x, y in prefetcher.iter_epoch(0, steps):
            float(x.reshape(-1)[0])
            batches += 1
seconds = time.perf_counter() - started
stop.set()
sampler.join()
print(json.dumps({"batches": batches, "seconds": seconds, "peak_anon": peak["anon"],
                  "baseline_anon": baseline, "peak_shmem": peak["shmem"]}))
""".replace("ROOT", repr(ROOT))

TF_KERAS_CHILD = CHILD.split("class MemmapSequence")[0].replace(
    "from fitgen.data.pipeline import Prefetcher\nfrom fitgen.data.sequence import Sequence\n", "") + r"""
import tf_keras as keras
x = np.load(path, mmap_mode="r")
model = keras.Sequential([keras.layers.GlobalAveragePooling2D(input_shape=(224, 224, 3)),
                          keras.layers.Dense(10, activation="softmax")])
model.compile("sgd", "sparse_categorical_crossentropy")
baseline = status(os.getpid()).get("RssAnon", 0)
sampler = threading.Thread(target=sample, daemon=True)
sampler.start()
started = time.perf_counter()
model.fit(x, np.zeros((len(x),), np.int64), batch_size=batch_size, shuffle="batch", epochs=1, verbose=0)
seconds = time.perf_counter() - started
stop.set()
sampler.join()
print(json.dumps({"batches": -(-len(x) // batch_size), "seconds": seconds, "peak_anon": peak["anon"],
                  "baseline_anon": baseline, "peak_shmem": peak["shmem"]}))
"""

CASES = ["sequence", "generator", "fit", "fit workers=2", "fit_generator", "tf-keras fit"]


def _run_case(case, path, batch_size, size, tfkeras_max):
    """The child's JSON row, or None when the case does not apply (tf-keras unset or too big)."""
    if case == "tf-keras fit":
        python = os.environ.get("FITGEN_TFKERAS_PYTHON")
        if not python or size > tfkeras_max:
            return None
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
        command = [python, "-c", TF_KERAS_CHILD, path, case, str(batch_size)]
    else:
        env, command = None, [sys.executable, "-c", CHILD, path, case, str(batch_size)]
    run = subprocess.run(command, capture_output=True, text=True, env=env)
    if run.returncode != 0:
        raise RuntimeError(f"{case} failed:\n{run.stderr[-3000:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", type=int, default=[2000, 20000])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--cases", nargs="+", default=CASES, choices=CASES)
    parser.add_argument("--tfkeras-max", type=int, default=2000, help="largest N the tf-keras case runs for")
    parser.add_argument("--output", default=os.path.join(ROOT, "bench", "results", "memory.json"))
    args = parser.parse_args(argv)
    import numpy as np

    results = {}
    print(f"{'case':15s} {'N':>7s} {'file GiB':>9s} {'peak anon MiB':>14s} {'shm MiB':>8s} {'batches/s':>10s}")
    with tempfile.TemporaryDirectory(prefix="fitgen_memory_") as folder:
        for size in args.sizes:
            path = os.path.join(folder, f"images_{size}.npy")
            np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(size,) + SHAPE).flush()
            for case in args.cases:
                gib = size * np.prod(SHAPE) * 4 / 2 ** 30
                row = _run_case(case, path, args.batch_size, size, args.tfkeras_max)
                if row is None:
                    print(f"{case:15s} {size:7d} {gib:9.1f} {'skipped':>14s}")
                    continue
                results[f"{case}/{size}"] = row
                print(f"{case:15s} {size:7d} {gib:9.1f} {row['peak_anon'] / 2 ** 20:14.0f} "
                      f"{row['peak_shmem'] / 2 ** 20:8.0f} {row['batches'] / row['seconds']:10.1f}")
            os.remove(path)
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output, "w") as handle:
        json.dump(results, handle, indent=2)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
