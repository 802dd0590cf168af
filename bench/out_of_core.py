"""`fit` on arrays bigger than memory, from a cold page cache: does reading overlap training?

One 2 GB float32 file (a .npy memmap, and the same data as an HDF5 dataset), a small softmax classifier (the
step is short, so disk reads would dominate a synchronous loop), `shuffle='batch'` (each batch one contiguous
read, Keras's advice for HDF5). Before every run the file's pages are dropped from the page cache with
`posix_fadvise(POSIX_FADV_DONTNEED)`, so each epoch reads from the disk. Runs, each in a fresh process, alternated
over `--rounds` rounds:

  fitgen fit memmap workers=0            reads each batch in the training thread (the old behaviour)
  fitgen fit memmap workers=2            two reader threads, two batches ahead
  fitgen fit memmap workers=2 processes  two reader processes (shared memory)
  fitgen fit h5py workers=0 / workers=2  the HDF5 copy (h5py is read by threads: its handles are not fork-safe)
  torch DataLoader memmap                a hand-written loop over a DataLoader(num_workers=2) of the same
                                         batches (a Dataset whose item i is batch i), the same model in torch

Reports samples/s and the ratio to `fit` with workers=0 (median over rounds).

    python bench/out_of_core.py [--gib 2] [--rounds 3] [--json bench/results/out_of_core.json]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FEATURES, CLASSES, BATCH = 2048, 10, 256

COMMON = r"""
import json, os, sys, time
import numpy as np
import torch
torch.set_num_threads(1)
path, kind = sys.argv[1], sys.argv[2]
features, classes, batch = %d, %d, %d

def drop_cache(name):
    fd = os.open(name, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
""" % (FEATURES, CLASSES, BATCH)

FITGEN = COMMON + r"""
sys.path.insert(0, %r)
import h5py
import fitgen
from fitgen.layers import Dense
workers, processes = int(sys.argv[3]), sys.argv[4] == "1"
fitgen.backend.set_random_seed(0)
model = fitgen.Sequential([Dense(classes, activation="softmax", input_shape=(features,))])
model.compile("sgd", "sparse_categorical_crossentropy")
if kind == "memmap":
    x = np.load(path, mmap_mode="r")
    handle = None
else:
    handle = h5py.File(path, "r")
    x = handle["x"]
y = np.zeros(len(x), np.int64)
drop_cache(path)
started = time.perf_counter()
model.fit(x, y, batch_size=batch, epochs=1, shuffle="batch", verbose=0, workers=workers,
          use_multiprocessing=processes)
seconds = time.perf_counter() - started
print(json.dumps({"samples": len(x), "seconds": seconds}))
""" % ROOT

DATALOADER = COMMON + r"""
from torch import nn
x = np.load(path, mmap_mode="r")

class Batches(torch.utils.data.Dataset):
    def __len__(self):
        return -(-len(x) // batch)

    def __getitem__(self, i):
        return torch.from_numpy(np.array(x[i * batch:(i + 1) * batch])), torch.zeros(min(batch, len(x) - i * batch),
                                                                                      dtype=torch.long)

torch.manual_seed(0)
model = nn.Linear(features, classes)
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
loader = torch.utils.data.DataLoader(Batches(), batch_size=None, shuffle=True, num_workers=2)
drop_cache(path)
started = time.perf_counter()
for xb, yb in loader:
    optimizer.zero_grad(set_to_none=True)
    loss = nn.functional.cross_entropy(model(xb), yb)
    loss.backward()
    optimizer.step()
    loss.item()
seconds = time.perf_counter() - started
print(json.dumps({"samples": len(x), "seconds": seconds}))
"""

RUNS = {
    "fitgen fit memmap workers=0": (FITGEN, "memmap", ["0", "0"]),
    "fitgen fit memmap workers=2": (FITGEN, "memmap", ["2", "0"]),
    "fitgen fit memmap workers=2 processes": (FITGEN, "memmap", ["2", "1"]),
    "fitgen fit h5py workers=0": (FITGEN, "h5", ["0", "0"]),
    "fitgen fit h5py workers=2": (FITGEN, "h5", ["2", "0"]),
    "torch DataLoader memmap num_workers=2": (DATALOADER, "memmap", []),
}


def make_files(folder, gib):
    rows = int(gib * 2 ** 30 / (FEATURES * 4))
    npy, h5 = os.path.join(folder, "x.npy"), os.path.join(folder, "x.h5")
    data = np.lib.format.open_memmap(npy, mode="w+", dtype=np.float32, shape=(rows, FEATURES))
    block = np.random.default_rng(0).random((8192, FEATURES), dtype=np.float32)
    import h5py
    with h5py.File(h5, "w") as f:
        dataset = f.create_dataset("x", (rows, FEATURES), dtype="float32")
        for start in range(0, rows, len(block)):
            stop = min(start + len(block), rows)
            data[start:stop] = block[:stop - start]
            dataset[start:stop] = block[:stop - start]
    data.flush()
    del data
    for name in (npy, h5):
        with open(name, "rb+") as handle:
            os.fsync(handle.fileno())  # clean pages: DONTNEED can then drop them
    return {"memmap": npy, "h5": h5}, rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", default=os.path.join(ROOT, "bench", "results", "out_of_core.json"))
    args = parser.parse_args(argv)
    rates = {name: [] for name in RUNS}
    with tempfile.TemporaryDirectory(prefix="fitgen_out_of_core_", dir=os.environ.get("FITGEN_BENCH_DIR")) as folder:
        paths, rows = make_files(folder, args.gib)
        print(f"{rows} samples x {FEATURES} float32 = {rows * FEATURES * 4 / 2 ** 30:.2f} GiB per file, "
              f"batch {BATCH}, shuffle='batch', cold page cache per run, {os.cpu_count()} cores, "
              f"load {os.getloadavg()[0]:.1f}")
        for round_number in range(args.rounds):
            for name, (code, kind, extra) in RUNS.items():
                done = subprocess.run([sys.executable, "-c", code, paths[kind], kind, *extra], capture_output=True,
                                      text=True, check=False)
                if done.returncode:
                    raise RuntimeError(f"{name} failed:\n{done.stderr[-3000:]}")
                row = json.loads(done.stdout.strip().splitlines()[-1])
                rates[name].append(row["samples"] / row["seconds"])
                print(f"  round {round_number + 1}: {name:40s} {rates[name][-1]:10.0f} samples/s", flush=True)
    base = statistics.median(rates["fitgen fit memmap workers=0"])
    print(f"\n| run | samples/s (median) | vs fit workers=0 |\n|---|---|---|")
    table = {}
    for name, values in rates.items():
        median = statistics.median(values)
        table[name] = {"samples_per_second": median, "ratio": median / base, "all": values}
        print(f"| {name} | {median:,.0f} | {median / base:.2f}x |")
    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json, "w") as handle:
        json.dump({"rows": rows, "features": FEATURES, "batch": BATCH, "load": os.getloadavg()[0], "runs": table},
                  handle, indent=2)
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
