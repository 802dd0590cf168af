"""ResNet50 speed: fitgen's `applications.ResNet50` beside torchvision's `resnet50` and tf-keras's ResNet50.

Images per second for prediction (inference mode, no gradients) and for a training step (forward, backward
and an SGD update with a softmax cross-entropy loss), on the same random batch (default 8 images of
224x224x3), with 1 thread and with all threads. Every framework runs in its own fresh process; frameworks take
turns for `--rounds` rounds so that load drift on a shared machine hits all of them alike. Each process warms
up, then times `--repeats` calls; the table shows the best and the median images/s over all rounds and the
ratio to torchvision (NCHW input, its usual layout) measured in the same run. torchvision is also run on a
channels_last input, the memory layout fitgen's convolutions use.

fitgen runs as Keras users call it (`predict_on_batch`, `train_on_batch` on NumPy arrays, channels_last);
torchvision as PyTorch users do (a module called on a tensor under `torch.no_grad()`, `loss.backward()`,
`optimizer.step()`). torchvision must import beside torch in the interpreter that runs this script (e.g.
/work/tvenv); tf-keras can live in another one (`--tfkeras-python` / FITGEN_TFKERAS_PYTHON). `--device cuda`
runs fitgen and torchvision on the GPU (tf-keras stays on CPU and is left out).

    python bench/applications.py [--rounds 2] [--repeats 3] [--batch 8] [--threads 1 0] [--device cpu]
"""
import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import textwrap

COMMON = textwrap.dedent("""
    import json, os, sys, time
    import numpy as np
    cfg = json.loads(sys.argv[1])
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (cfg["batch"], cfg["size"], cfg["size"], 3)).astype("float32")
    labels = rng.integers(0, 1000, cfg["batch"])
    y = np.eye(1000, dtype="float32")[labels]
    def timed(fn):
        for _ in range(cfg["warmup"]):
            fn()
        times = []
        for _ in range(cfg["repeats"]):
            c, t = time.process_time(), time.perf_counter(); fn()
            times.append((time.perf_counter() - t, time.process_time() - c))
        return times
""")

TORCH_SETUP = textwrap.dedent("""
    import torch
    if cfg["threads"]:
        torch.set_num_threads(cfg["threads"])
    device = torch.device(cfg["device"])
    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()
""")

RUNNERS = {
    "fitgen": COMMON + TORCH_SETUP + textwrap.dedent("""
        import fitgen
        fitgen.backend.set_device(device)
        from fitgen.applications import ResNet50
        model = ResNet50(weights=None, input_shape=(cfg["size"], cfg["size"], 3))
        model.compile(fitgen.optimizers.SGD(lr=0.01), "categorical_crossentropy")
        def predict():
            model.predict_on_batch(x); sync()
        def train():
            model.train_on_batch(x, y); sync()
        print(json.dumps({"predict": timed(predict), "train": timed(train)}))
    """),
    "torchvision": COMMON + TORCH_SETUP + textwrap.dedent("""
        import torchvision
        model = torchvision.models.resnet50().to(device)
        layout = torch.channels_last if cfg["channels_last"] else torch.contiguous_format
        model = model.to(memory_format=layout)
        xt = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous(memory_format=layout).to(device)
        yt = torch.from_numpy(labels).to(device)
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        def predict():
            model.eval()
            with torch.no_grad():
                model(xt).cpu()
            sync()
        def train():
            model.train()
            opt.zero_grad(set_to_none=True)
            loss = torch.nn.functional.cross_entropy(model(xt), yt)
            loss.backward()
            opt.step()
            loss.item()
            sync()
        print(json.dumps({"predict": timed(predict), "train": timed(train)}))
    """),
    "tf-keras": COMMON + textwrap.dedent("""
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
        import tensorflow as tf
        if cfg["threads"]:
            tf.config.threading.set_intra_op_parallelism_threads(cfg["threads"])
            tf.config.threading.set_inter_op_parallelism_threads(cfg["threads"])
        import tf_keras
        model = tf_keras.applications.ResNet50(weights=None, input_shape=(cfg["size"], cfg["size"], 3))
        model.compile(tf_keras.optimizers.SGD(learning_rate=0.01), "categorical_crossentropy")
        def predict():
            model.predict_on_batch(x)
        def train():
            model.train_on_batch(x, y)
        print(json.dumps({"predict": timed(predict), "train": timed(train)}))
    """),
}
# (runner, extra config) of each row of the table.
FRAMEWORKS = {"fitgen": ("fitgen", {}), "torchvision": ("torchvision", {"channels_last": False}),
              "torchvision channels_last": ("torchvision", {"channels_last": True}), "tf-keras": ("tf-keras", {})}


def run(framework, cfg, python):
    """{'predict': [s, ...], 'train': [s, ...]} of one fresh process, or (None, error text)."""
    runner, extra = FRAMEWORKS[framework]
    env = dict(os.environ, PYTHONPATH=str(pathlib.Path(__file__).resolve().parents[1]))
    if cfg["threads"]:
        env.update(OMP_NUM_THREADS=str(cfg["threads"]), MKL_NUM_THREADS=str(cfg["threads"]))
    proc = subprocess.run([python, "-c", RUNNERS[runner], json.dumps(dict(cfg, **extra))], capture_output=True,
                          text=True, env=env, timeout=3600)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["failed"])[-1]
        return None, last[:120]
    return json.loads(proc.stdout.strip().splitlines()[-1]), None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 0], help="0: all threads (torch's default)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--frameworks", nargs="+", default=list(FRAMEWORKS))
    parser.add_argument("--tfkeras-python", default=os.environ.get("FITGEN_TFKERAS_PYTHON", sys.executable))
    parser.add_argument("--json", default="bench/results/applications.json")
    args = parser.parse_args()
    frameworks = [f for f in args.frameworks if not (args.device != "cpu" and f == "tf-keras")]
    results = {}
    for threads in args.threads:
        cfg = {"batch": args.batch, "size": args.size, "threads": threads, "device": args.device,
               "warmup": args.warmup, "repeats": args.repeats}
        times = {f: {"predict": [], "train": []} for f in frameworks}
        errors = {}
        for _ in range(args.rounds):
            for framework in frameworks:
                if framework in errors:
                    continue
                python = args.tfkeras_python if framework == "tf-keras" else sys.executable
                measured, error = run(framework, cfg, python)
                if error:
                    errors[framework] = error
                    continue
                for phase in ("predict", "train"):
                    times[framework][phase].extend(measured[phase])
        results[str(threads)] = {f: {"error": errors.get(f), **{
            phase: _rates(t, args.batch) for phase, t in times[f].items()}} for f in frameworks}
    _print_table(results, args)
    path = pathlib.Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"args": vars(args), "results": results}, indent=1))
    print(f"wrote {path}")


def _rates(times, batch):
    """Images/s from (wall, process CPU) second pairs: best and median wall, and per CPU second (best)."""
    if not times:
        return {"seconds": [], "best_images_per_s": None, "median_images_per_s": None, "images_per_cpu_s": None}
    wall = [w for w, _ in times]
    return {"seconds": wall, "cpu_seconds": [c for _, c in times], "best_images_per_s": batch / min(wall),
            "median_images_per_s": batch / statistics.median(wall),
            "images_per_cpu_s": batch / min(c for _, c in times)}


def _print_table(results, args):
    # On a shared machine noise only ever slows a run down: the best call is the cleaner comparison.
    print(f"ResNet50, batch {args.batch} x {args.size}x{args.size}x3, device {args.device}; images/s (best / median),"
          f" ratio of best to torchvision (NCHW)")
    print(f"{'threads':8} {'framework':26} {'predict':>17} {'ratio':>6} {'train step':>17} {'ratio':>6}")
    for threads, row in results.items():
        base = row.get("torchvision", {})
        for framework, value in row.items():
            if value["error"]:
                print(f"{threads or 'all':8} {framework:26} n/a ({value['error'][:60]})")
                continue
            cells = []
            for phase in ("predict", "train"):
                best, median = value[phase]["best_images_per_s"], value[phase]["median_images_per_s"]
                reference = (base.get(phase) or {}).get("best_images_per_s") if not base.get("error") else None
                ratio = f"{best / reference:5.2f}x" if reference else "   n/a"
                cells.append(f"{best:8.2f} /{median:7.2f} {ratio}")
            print(f"{threads if threads != '0' else 'all':8} {framework:26} {cells[0]} {cells[1]}")
    # With one thread, CPU time is what the work costs, whatever else the machine runs.
    single = results.get("1")
    if single:
        print("1 thread, images per CPU second (best), ratio to torchvision (NCHW):")
        base = single.get("torchvision", {})
        for framework, value in single.items():
            if value["error"]:
                continue
            cells = []
            for phase in ("predict", "train"):
                rate = value[phase]["images_per_cpu_s"]
                reference = None if base.get("error") else (base.get(phase) or {}).get("images_per_cpu_s")
                cells.append(f"{phase} {rate:7.2f} ({rate / reference:4.2f}x)" if reference else f"{phase} {rate:7.2f}")
            print(f"         {framework:26} {cells[0]}   {cells[1]}")


if __name__ == "__main__":
    main()
