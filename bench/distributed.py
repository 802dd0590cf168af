"""Data-parallel throughput: samples/s of `fit` on 1 and 2 CPU processes (gloo), and on GPUs when present.

Each configuration runs in fresh processes (torchrun for more than one): an MLP (784-512-512-10,
RMSprop, batch 128 per process) trains one warm-up epoch, then `--epochs` timed epochs on 25,600
synthetic samples; the table shows the median epoch's samples/s over all processes and the speed-up
over one process of the same kind. On a machine with N CPU cores, 2 CPU processes share those cores
(torchrun sets OMP_NUM_THREADS=1 per process; the 1-process run is given the same setting for a fair
comparison), so the CPU column measures the engine's overhead more than a real speed-up.

    python bench/distributed.py [--epochs 3] [--json bench/results/distributed.json]
"""
import argparse
import json
import os
import pathlib
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap

ROOT = pathlib.Path(__file__).resolve().parent.parent

BODY = textwrap.dedent("""
    import json, os, sys, time
    import numpy as np
    from fitgen import backend, distribute
    from fitgen.callbacks import Callback
    from fitgen.layers import Dense
    from fitgen.models import Sequential
    device, epochs, samples = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    if device == "cpu":
        backend.set_device("cpu")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((samples, 784)).astype("float32")
    y = np.eye(10, dtype="float32")[rng.integers(0, 10, samples)]
    model = Sequential([Dense(512, activation="relu", input_shape=(784,)), Dense(512, activation="relu"),
                        Dense(10, activation="softmax")])
    model.compile("rmsprop", "categorical_crossentropy", metrics=["acc"])

    class Clock(Callback):
        def on_train_begin(self, logs=None):
            self.times = []
        def on_epoch_begin(self, epoch, logs=None):
            if device.startswith("cuda"):
                import torch; torch.cuda.synchronize()
            self.start = time.perf_counter()
        def on_epoch_end(self, epoch, logs=None):
            if device.startswith("cuda"):
                import torch; torch.cuda.synchronize()
            self.times.append(time.perf_counter() - self.start)

    clock = Clock()
    model.fit(x, y, batch_size=128, epochs=epochs + 1, verbose=0, callbacks=[clock])
    if distribute.is_chief():
        print("RESULT " + json.dumps({"epoch_seconds": clock.times[1:], "samples": samples,
                                      "world_size": distribute.get_world_size()}))
""")


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(device, processes, epochs, samples):
    folder = tempfile.mkdtemp(prefix="fitgen-bench-")
    script = pathlib.Path(folder) / "distributed_body.py"
    script.write_text(BODY)
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    if device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""
    args = [str(script), device, str(epochs), str(samples)]
    if processes == 1:
        command = [sys.executable] + args
    else:
        command = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={processes}",
                   f"--master_port={_free_port()}"] + args
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900, check=False)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{device} x{processes} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    result = json.loads(lines[-1][len("RESULT "):])
    result["samples_per_second"] = samples / statistics.median(result["epoch_seconds"])
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--samples", type=int, default=25600)
    parser.add_argument("--json", default=str(ROOT / "bench" / "results" / "distributed.json"))
    options = parser.parse_args()
    import torch
    configs = [("cpu", 1), ("cpu", 2)]
    gpus = torch.cuda.device_count()
    if gpus:
        configs.append(("cuda", 1))
        if gpus >= 2:
            configs.append(("cuda", 2))
    rows = []
    for device, processes in configs:
        result = run(device, processes, options.epochs, options.samples)
        rows.append({"device": device, "processes": processes, "samples_per_second": result["samples_per_second"],
                     "epoch_seconds": result["epoch_seconds"]})
    base = {row["device"]: row["samples_per_second"] for row in rows if row["processes"] == 1}
    print(f"{'device':<8}{'processes':>10}{'samples/s':>14}{'speed-up':>10}")
    for row in rows:
        row["speed_up"] = row["samples_per_second"] / base[row["device"]]
        print(f"{row['device']:<8}{row['processes']:>10}{row['samples_per_second']:>14,.0f}{row['speed_up']:>10.2f}")
    info = {"cpu_count": os.cpu_count(), "torch": torch.__version__,
            "gpu": torch.cuda.get_device_name(0) if gpus else None, "epochs": options.epochs,
            "samples": options.samples, "batch_size_per_process": 128, "model": "784-512-512-10 MLP, RMSprop"}
    pathlib.Path(options.json).parent.mkdir(parents=True, exist_ok=True)
    pathlib.Path(options.json).write_text(json.dumps({"machine": info, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
