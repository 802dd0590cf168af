"""Framework overhead of one training epoch: fitgen `fit` beside a hand-written PyTorch loop, Keras 3 on its
torch backend and tf-keras, on the same model and data, in one run.

The model suite (`--models`: Keras-example models against the idiomatic and the channels_last PyTorch loop,
with fitgen eager, `jit_compile=True` and `mixed_bfloat16` columns; samples per CPU-second and wall clock):

    python bench/overhead.py --models all --threads 1 --rounds 3 [--frameworks fitgen "pytorch loop" ...]
    python bench/overhead.py --models all --threads 1 --rounds 3 --alternate   # eager columns, one process

`--alternate` sets up the loops and eager fitgen in one process and alternates their epochs: on a shared machine
one fresh process of the same code can run 10% faster or slower than the next, more than some of the differences
measured.

Two sizes: Keras's mnist_mlp (784-512-512-10 with Dropout, RMSprop, batch 128, 60,000 samples) and a tiny
model (20-32-10, batch 32) where per-step overhead dominates; and a small CNN on channels_first images
(`cnn_cf`: Conv-Pool-Conv-Pool-Flatten-Dense on (3, 16, 16), Adam, batch 64), the layout Theano-era Keras 2
scripts use. tf-keras runs that one channels_last when TensorFlow cannot train channels_first (its CPU
kernels have no NCHW max-pooling gradient); the table says so. Every framework runs in its own fresh
process (same thread settings), one warm-up epoch then two timed epochs; frameworks take turns for
`--rounds` rounds so that load drift on a shared machine hits all of them alike. The table shows the
median samples/s and the ratio to the raw PyTorch loop measured in the same run. Peers that are not installed are
reported as such. Keras 3 and tf-keras can live in other interpreters (`--keras3-python` /
FITGEN_KERAS3_PYTHON, e.g. a venv with torch and keras==3.8; `--tfkeras-python` / FITGEN_TFKERAS_PYTHON, a
venv with tensorflow-cpu and tf-keras 2.21).

    python bench/overhead.py [--rounds 3] [--sizes tiny mlp cnn_cf imdb_lstm] [--threads 1]
                             [--json bench/results/overhead.json]

`imdb_lstm` is Keras's imdb_lstm example (Embedding -> LSTM(128, dropout=0.2, recurrent_dropout=0.2) ->
Dense) on 1,600 random reviews of 80 tokens, batch 32. `--threads N` runs every framework on N intra-op
threads (a shared machine gives steadier numbers with 1).
"""
import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import textwrap

SIZES = {
    "tiny": dict(features=20, hidden=[32], classes=10, batch=32, samples=32000, dropout=0.0, optimizer="sgd"),
    "mlp": dict(features=784, hidden=[512, 512], classes=10, batch=128, samples=60000, dropout=0.2,
                optimizer="rmsprop"),
    "cnn_cf": dict(model="cnn", image=[3, 16, 16], filters=[16, 32], classes=10, batch=64, samples=8192),
}

COMMON = textwrap.dedent("""
    import json, sys, time
    import numpy as np
    cfg = json.loads(sys.argv[1]); repeats = int(sys.argv[2])
    rng = np.random.default_rng(0)
    x = rng.standard_normal((cfg["samples"], cfg["features"])).astype("float32")
    labels = rng.integers(0, cfg["classes"], cfg["samples"])
    y = np.eye(cfg["classes"], dtype="float32")[labels]
    def report(times):
        print(json.dumps({"epoch_seconds": times}))
""")

RUNNERS = {
    "pytorch loop": COMMON + textwrap.dedent("""
        import torch
        from torch import nn
        layers, width = [], cfg["features"]
        for units in cfg["hidden"]:
            layers += [nn.Linear(width, units), nn.ReLU()] + ([nn.Dropout(cfg["dropout"])] if cfg["dropout"] else [])
            width = units
        model = nn.Sequential(*layers, nn.Linear(width, cfg["classes"]))
        opt = (torch.optim.SGD(model.parameters(), lr=0.01) if cfg["optimizer"] == "sgd"
               else torch.optim.RMSprop(model.parameters(), lr=0.001, alpha=0.9, eps=1e-7))
        X, Y = torch.from_numpy(x), torch.from_numpy(labels)
        def epoch():
            model.train()
            perm = torch.randperm(len(X))
            for i in range(0, len(X), cfg["batch"]):
                idx = perm[i:i + cfg["batch"]]
                xb, yb = X[idx], Y[idx]
                opt.zero_grad(set_to_none=True)
                loss = nn.functional.cross_entropy(model(xb), yb)
                loss.backward()
                opt.step()
                loss.item()  # any logging loop reads the loss every step
        epoch()
        times = []
        for _ in range(repeats):
            t = time.perf_counter(); epoch(); times.append(time.perf_counter() - t)
        report(times)
    """),
    "fitgen": COMMON + textwrap.dedent("""
        from fitgen.models import Sequential
        from fitgen.layers import Dense, Dropout
        model = Sequential()
        for i, units in enumerate(cfg["hidden"]):
            kwargs = {"input_shape": (cfg["features"],)} if i == 0 else {}
            model.add(Dense(units, activation="relu", **kwargs))
            if cfg["dropout"]:
                model.add(Dropout(cfg["dropout"]))
        model.add(Dense(cfg["classes"], activation="softmax"))
        model.compile(cfg["optimizer"], "categorical_crossentropy")
        model.fit(x, y, batch_size=cfg["batch"], epochs=1, verbose=0)
        times = []
        for _ in range(repeats):
            t = time.perf_counter(); model.fit(x, y, batch_size=cfg["batch"], epochs=1, verbose=0)
            times.append(time.perf_counter() - t)
        report(times)
    """),
}

KERAS_LIKE = textwrap.dedent("""
    model = K.Sequential()
    for i, units in enumerate(cfg["hidden"]):
        kwargs = {"input_shape": (cfg["features"],)} if i == 0 else {}
        model.add(K.layers.Dense(units, activation="relu", **kwargs))
        if cfg["dropout"]:
            model.add(K.layers.Dropout(cfg["dropout"]))
    model.add(K.layers.Dense(cfg["classes"], activation="softmax"))
    model.compile(cfg["optimizer"], "categorical_crossentropy")
    model.fit(x, y, batch_size=cfg["batch"], epochs=1, verbose=0)
    times = []
    for _ in range(repeats):
        t = time.perf_counter(); model.fit(x, y, batch_size=cfg["batch"], epochs=1, verbose=0)
        times.append(time.perf_counter() - t)
    report(times)
""")
RUNNERS["keras 3 (torch)"] = COMMON + "import os\nos.environ['KERAS_BACKEND'] = 'torch'\nimport keras as K\n" + \
    "assert K.__version__.startswith('3'), K.__version__\n" + KERAS_LIKE
RUNNERS["tf-keras"] = COMMON + "import os\nos.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'\nimport tf_keras as K\n" + \
    KERAS_LIKE

# The channels_first CNN: (N, C, H, W) images, Conv(3x3, same, relu) -> MaxPool(2) twice, Flatten, Dense.
CNN_COMMON = textwrap.dedent("""
    import json, sys, time
    import numpy as np
    cfg = json.loads(sys.argv[1]); repeats = int(sys.argv[2])
    rng = np.random.default_rng(0)
    x = rng.standard_normal([cfg["samples"]] + cfg["image"]).astype("float32")
    labels = rng.integers(0, cfg["classes"], cfg["samples"])
    y = np.eye(cfg["classes"], dtype="float32")[labels]
    def report(times, note=None):
        print(json.dumps({"epoch_seconds": times, "note": note}))
""")
CNN_RUNNERS = {
    "pytorch loop": CNN_COMMON + textwrap.dedent("""
        import torch
        from torch import nn
        layers, channels, side = [], cfg["image"][0], cfg["image"][1]
        for filters in cfg["filters"]:
            layers += [nn.Conv2d(channels, filters, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
            channels, side = filters, side // 2
        model = nn.Sequential(*layers, nn.Flatten(), nn.Linear(channels * side * side, cfg["classes"]))
        opt = torch.optim.Adam(model.parameters(), lr=0.001, eps=1e-7)
        X, Y = torch.from_numpy(x), torch.from_numpy(labels)
        def epoch():
            model.train()
            perm = torch.randperm(len(X))
            for i in range(0, len(X), cfg["batch"]):
                idx = perm[i:i + cfg["batch"]]
                opt.zero_grad(set_to_none=True)
                loss = nn.functional.cross_entropy(model(X[idx]), Y[idx])
                loss.backward()
                opt.step()
                loss.item()
        epoch()
        times = []
        for _ in range(repeats):
            t = time.perf_counter(); epoch(); times.append(time.perf_counter() - t)
        report(times)
    """),
}
CNN_KERAS_LIKE = textwrap.dedent("""
    def build(data_format):
        shape = cfg["image"] if data_format == "channels_first" else cfg["image"][1:] + cfg["image"][:1]
        model = K.Sequential()
        for i, filters in enumerate(cfg["filters"]):
            kwargs = {"input_shape": tuple(shape)} if i == 0 else {}
            model.add(K.layers.Conv2D(filters, 3, padding="same", activation="relu", data_format=data_format,
                                      **kwargs))
            model.add(K.layers.MaxPooling2D(data_format=data_format))
        model.add(K.layers.Flatten(data_format=data_format))
        model.add(K.layers.Dense(cfg["classes"], activation="softmax"))
        model.compile("adam", "categorical_crossentropy")
        return model
    note, data = None, x
    try:
        model = build("channels_first")
        model.fit(x, y, batch_size=cfg["batch"], epochs=1, verbose=0)
    except Exception as error:  # e.g. TensorFlow's CPU kernels: no NCHW max-pooling gradient
        note = "channels_last: channels_first fails (" + str(error).strip().splitlines()[0][:60] + ")"
        data = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
        model = build("channels_last")
        model.fit(data, y, batch_size=cfg["batch"], epochs=1, verbose=0)
    times = []
    for _ in range(repeats):
        t = time.perf_counter(); model.fit(data, y, batch_size=cfg["batch"], epochs=1, verbose=0)
        times.append(time.perf_counter() - t)
    report(times, note)
""")
CNN_RUNNERS["fitgen"] = CNN_COMMON + "from fitgen import models as _m, layers as _l\n" + \
    "class K:\n    Sequential, layers = _m.Sequential, _l\n" + CNN_KERAS_LIKE
CNN_RUNNERS["keras 3 (torch)"] = CNN_COMMON + "import os\nos.environ['KERAS_BACKEND'] = 'torch'\nimport keras as K\n" + \
    "assert K.__version__.startswith('3'), K.__version__\n" + CNN_KERAS_LIKE
CNN_RUNNERS["tf-keras"] = CNN_COMMON + "import os\nos.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'\nimport tf_keras as K\n" + \
    CNN_KERAS_LIKE


# Keras's imdb_lstm example: Embedding(20000, 128) -> LSTM(128, dropout=0.2, recurrent_dropout=0.2) ->
# Dense(1, sigmoid), maxlen 80, batch 32, Adam. Recurrent dropout rules out the fused kernels everywhere; the
# PyTorch reference is the step loop a user would write with the same dropout semantics (one mask per gate
# and sequence for the inputs and for the recurrent state, as Keras 2 draws them).
SIZES["imdb_lstm"] = dict(vocabulary=20000, maxlen=80, embedding=128, units=128, batch=32, samples=1600,
                          dropout=0.2, recurrent_dropout=0.2)
LSTM_COMMON = textwrap.dedent("""
    import json, sys, time
    import numpy as np
    cfg = json.loads(sys.argv[1]); repeats = int(sys.argv[2])
    rng = np.random.default_rng(0)
    x = rng.integers(1, cfg["vocabulary"], (cfg["samples"], cfg["maxlen"])).astype("int32")
    y = rng.integers(0, 2, cfg["samples"]).astype("float32")
    def report(times):
        print(json.dumps({"epoch_seconds": times}))
""")
LSTM_KERAS_LIKE = textwrap.dedent("""
    model = K.Sequential([K.layers.Embedding(cfg["vocabulary"], cfg["embedding"]),
                          K.layers.LSTM(cfg["units"], dropout=cfg["dropout"],
                                        recurrent_dropout=cfg["recurrent_dropout"]),
                          K.layers.Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.fit(x, y, batch_size=cfg["batch"], epochs=1, verbose=0)
    times = []
    for _ in range(repeats):
        t = time.perf_counter(); model.fit(x, y, batch_size=cfg["batch"], epochs=1, verbose=0)
        times.append(time.perf_counter() - t)
    report(times)
""")
LSTM_RUNNERS = {
    "pytorch loop": LSTM_COMMON + textwrap.dedent("""
        import torch
        from torch import nn
        import torch.nn.functional as F
        u, d = cfg["units"], cfg["embedding"]
        emb = nn.Embedding(cfg["vocabulary"], d)
        w_ih, w_hh = nn.Parameter(torch.randn(4 * u, d) * 0.05), nn.Parameter(torch.randn(4 * u, u) * 0.05)
        bias, out = nn.Parameter(torch.zeros(4 * u)), nn.Linear(u, 1)
        params = [emb.weight, w_ih, w_hh, bias] + list(out.parameters())
        opt = torch.optim.Adam(params, lr=0.001, eps=1e-7)
        X, Y = torch.from_numpy(x).long(), torch.from_numpy(y)
        def masks(shape, rate):  # one mask per gate, reused at every timestep
            return [F.dropout(torch.ones(shape), rate, training=True) for _ in range(4)]
        def forward(xb):
            e = emb(xb)
            n = e.shape[0]
            dm, rm = masks((n, 1, d), cfg["dropout"]), masks((n, u), cfg["recurrent_dropout"])
            xz = torch.cat([F.linear(e * dm[k], w_ih[k * u:(k + 1) * u], bias[k * u:(k + 1) * u])
                            for k in range(4)], -1)
            h = c = e.new_zeros(n, u)
            for t in range(e.shape[1]):
                z = xz[:, t] + torch.cat([F.linear(h * rm[k], w_hh[k * u:(k + 1) * u]) for k in range(4)], -1)
                i, f, g, o = z.chunk(4, -1)
                c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
                h = torch.sigmoid(o) * torch.tanh(c)
            return out(h).squeeze(-1)
        def epoch():
            perm = torch.randperm(len(X))
            for i in range(0, len(X), cfg["batch"]):
                idx = perm[i:i + cfg["batch"]]
                opt.zero_grad(set_to_none=True)
                loss = F.binary_cross_entropy_with_logits(forward(X[idx]), Y[idx])
                loss.backward()
                opt.step()
                loss.item()
        epoch()
        times = []
        for _ in range(repeats):
            t = time.perf_counter(); epoch(); times.append(time.perf_counter() - t)
        report(times)
    """),
    "fitgen": LSTM_COMMON + "import types, fitgen.layers, fitgen.models\n"
              "K = types.SimpleNamespace(layers=fitgen.layers, Sequential=fitgen.models.Sequential)\n"
              + LSTM_KERAS_LIKE,
    "keras 3 (torch)": LSTM_COMMON + "import os\nos.environ['KERAS_BACKEND'] = 'torch'\nimport keras as K\n"
                       "assert K.__version__.startswith('3'), K.__version__\n" + LSTM_KERAS_LIKE,
    "tf-keras": LSTM_COMMON + "import os\nos.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'\nimport tf_keras as K\n"
                + LSTM_KERAS_LIKE,
}
# Sizes whose model is not the MLP of RUNNERS.
SIZE_RUNNERS = {"cnn_cf": CNN_RUNNERS, "imdb_lstm": LSTM_RUNNERS}


BEFORE = "fitgen (before)"  # `--before TREE`: the fitgen runner on another checkout, for before/after in one run


def _runner(name, size):
    return SIZE_RUNNERS.get(size, RUNNERS)["fitgen" if name == BEFORE else name]


def run(name, size, repeats, python, notes=None, threads=None, root=None):
    """Epoch times of one fresh process, or (None, error text). A runner's note lands in `notes[name]`."""
    cfg = json.dumps(SIZES[size])
    env = dict(os.environ, PYTHONPATH=root or str(pathlib.Path(__file__).resolve().parents[1]))
    if threads:
        # The same CPU thread budget for every framework (torch reads OMP_NUM_THREADS/MKL, TensorFlow its own two).
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), TF_NUM_INTRAOP_THREADS=str(threads),
                   TF_NUM_INTEROP_THREADS="1")
    proc = subprocess.run([python, "-c", _runner(name, size), cfg, str(repeats)], capture_output=True, text=True,
                          env=env, timeout=1800)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["failed"])[-1]
        return None, last[:120]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    if result.get("note") and notes is not None:
        notes[name] = result["note"]
    return result["epoch_seconds"], None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sizes", nargs="+", default=list(SIZES))
    parser.add_argument("--tfkeras-python", default=os.environ.get("FITGEN_TFKERAS_PYTHON", sys.executable))
    parser.add_argument("--keras3-python", default=os.environ.get("FITGEN_KERAS3_PYTHON", sys.executable))
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for every framework (default: each library's own choice); 1 gives "
                             "comparable numbers on a machine shared with other jobs")
    parser.add_argument("--json", default="bench/results/overhead.json")
    parser.add_argument("--before", default=None, metavar="TREE",
                        help="another fitgen checkout (e.g. a worktree of an older commit) run as an extra "
                             f"'{BEFORE}' row of each size, taking turns with the others")
    parser.add_argument("--models", nargs="*", default=None,
                        help=f"rows of the model suite ({', '.join(MODELS)}); default: none, `--models all`: every one")
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per run of the model suite")
    parser.add_argument("--alternate", action="store_true",
                        help="model suite: the eager frameworks (loops, fitgen) in one process, epochs alternating")
    parser.add_argument("--frameworks", nargs="+", default=MODEL_FRAMEWORKS,
                        help="columns of the model suite (default: all; peers not installed are reported n/a)")
    args = parser.parse_args()
    pythons = {"tf-keras": args.tfkeras_python, "keras 3 (torch)": args.keras3_python}
    if args.models is not None:
        names = list(MODELS) if args.models in ([], ["all"]) else args.models
        if args.alternate:
            model_results = run_alternating(names, args.frameworks, args.rounds, args.threads, args.epochs)
        else:
            model_results = run_models(names, args.frameworks, args.rounds, pythons, args.threads, args.epochs)
        print_models(model_results, args.threads)
        path = pathlib.Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"rounds": args.rounds, "threads": args.threads, "alternate": args.alternate,
                                    "models": MODELS,
                                    "results": model_results, "load_average": os.getloadavg()}, indent=1))
        print(f"wrote {path}")
        return
    results = {}
    for size in args.sizes:
        runners = list(SIZE_RUNNERS.get(size, RUNNERS)) + ([BEFORE] if args.before else [])
        times = {name: [] for name in runners}
        errors, notes = {}, {}
        for _ in range(args.rounds):
            for name in runners:
                if name in errors:
                    continue
                epoch_times, error = run(name, size, 2, pythons.get(name, sys.executable), notes, args.threads,
                                         args.before if name == BEFORE else None)
                if error:
                    errors[name] = error
                else:
                    times[name].extend(epoch_times)
        samples = SIZES[size]["samples"]
        results[size] = {name: {"samples_per_s": samples / statistics.median(times[name]) if times[name] else None,
                                "best_samples_per_s": samples / min(times[name]) if times[name] else None,
                                "error": errors.get(name), "note": notes.get(name), "epoch_seconds": times[name]}
                         for name in runners}
    # Median and best epoch: on a shared machine noise only ever slows a run down, so the best epoch of
    # each framework is the cleaner comparison; the median shows what a typical epoch costs.
    print(f"{'size':6} {'framework':18} {'median/s':>10} {'ratio':>7} {'best/s':>10} {'ratio':>7}")
    for size, row in results.items():
        base, best_base = row["pytorch loop"]["samples_per_s"], row["pytorch loop"]["best_samples_per_s"]
        for name, value in row.items():
            rate, best = value["samples_per_s"], value["best_samples_per_s"]
            if rate is None:
                print(f"{size:6} {name:18} {'n/a':>10} ({value['error'][:50]})")
                continue
            note = f"  ({value['note']})" if value.get("note") else ""
            print(f"{size:6} {name:18} {rate:10,.0f} {rate / base:6.2f}x {best:10,.0f} {best / best_base:6.2f}x{note}")
    path = pathlib.Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"rounds": args.rounds, "threads": args.threads, "sizes": SIZES, "results": results},
                               indent=1))
    print(f"wrote {path}")


# ------------------------------------------------------------------------------------------- the model suite
# Keras-example models beside the idiomatic PyTorch loop (NCHW data for convnets, nn.LSTM/nn.GRU, `loss.item()`
# every step, accuracy counted on the device) and the same loop in torch's channels_last memory format, with
# fitgen eager, fitgen `jit_compile=True` and fitgen `mixed_bfloat16` columns. Every runner reports each epoch's
# wall and CPU seconds: with `--threads 1` samples per CPU-second compare the work each framework does, without
# it wall-clock samples/s show what all cores give. The first (warm-up) epoch is reported apart: for jit it
# includes torch.compile.
MODELS = {
    "tiny": dict(kind="vector", features=20, hidden=[32], dropout=0.0, classes=10, batch=32, samples=16000,
                 optimizer="sgd"),
    "mnist_mlp": dict(kind="vector", features=784, hidden=[512, 512], dropout=0.2, classes=10, batch=128,
                      samples=12800, optimizer="rmsprop"),
    "cifar10_cnn": dict(kind="image", image=[32, 32, 3], classes=10, batch=32, samples=1024, optimizer="rmsprop"),
    "resnet_bn": dict(kind="image", image=[32, 32, 3], classes=10, batch=64, samples=1024, optimizer="adam"),
    "lstm": dict(kind="text", words=5000, length=80, embed=64, units=64, batch=32, samples=2048, optimizer="adam"),
    "gru": dict(kind="text", words=5000, length=80, embed=64, units=64, batch=32, samples=2048, optimizer="adam"),
    "conv1d": dict(kind="text", words=5000, length=100, embed=50, filters=128, hidden=128, batch=32, samples=2048,
                   optimizer="adam"),
}
MODEL_FRAMEWORKS = ["pytorch loop", "pytorch loop (channels_last)", "fitgen", "fitgen jit", "fitgen bf16",
                    "tf-keras", "keras 3 (torch)"]

MODEL_COMMON = textwrap.dedent("""
    import json, sys, time
    import numpy as np
    name, cfg, repeats = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
    rng = np.random.default_rng(0)
    n = cfg["samples"]
    if cfg["kind"] == "vector":
        x = rng.standard_normal((n, cfg["features"])).astype("float32")
        labels = rng.integers(0, cfg["classes"], n)
    elif cfg["kind"] == "image":
        x = rng.standard_normal([n] + cfg["image"]).astype("float32")  # channels_last, as Keras
        labels = rng.integers(0, cfg["classes"], n)
    else:
        x = rng.integers(1, cfg["words"], (n, cfg["length"]))
        labels = rng.integers(0, 2, n)
    def timed(epoch):
        if "ALTERNATE" in globals():  # --alternate: the driver times this epoch beside another framework's
            ALTERNATE.append(epoch)
            return
        warm = time.perf_counter(); epoch(); warm = time.perf_counter() - warm
        wall, cpu = [], []
        for _ in range(repeats):
            t, c = time.perf_counter(), time.process_time()
            epoch()
            wall.append(time.perf_counter() - t); cpu.append(time.process_time() - c)
        print(json.dumps({"epoch_seconds": wall, "epoch_cpu_seconds": cpu, "warmup_seconds": warm}))
""")

MODEL_TORCH = MODEL_COMMON + textwrap.dedent("""
    import torch
    from torch import nn
    F = nn.functional
    channels_last = sys.argv[4] == "channels_last"

    class Residual(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.a = nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.BatchNorm2d(cout, eps=1e-3, momentum=0.01),
                                   nn.ReLU(), nn.Conv2d(cout, cout, 3, 1, 1), nn.BatchNorm2d(cout, eps=1e-3, momentum=0.01))
            self.skip = nn.Identity() if stride == 1 and cin == cout else nn.Conv2d(cin, cout, 1, stride)
        def forward(self, t):
            return F.relu(self.a(t) + self.skip(t))

    class Text(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(cfg["words"], cfg["embed"])
            if name == "conv1d":
                self.conv = nn.Conv1d(cfg["embed"], cfg["filters"], 3)
                self.hidden = nn.Linear(cfg["filters"], cfg["hidden"])
                self.out = nn.Linear(cfg["hidden"], 1)
            else:
                self.rnn = (nn.LSTM if name == "lstm" else nn.GRU)(cfg["embed"], cfg["units"], batch_first=True)
                self.out = nn.Linear(cfg["units"], 1)
            self.drop = nn.Dropout(0.2)
        def forward(self, t):
            h = self.embed(t)
            if name == "conv1d":
                h = F.relu(self.conv(self.drop(h).transpose(1, 2))).amax(-1)
                return self.out(F.relu(self.drop(self.hidden(h)))).squeeze(-1)
            return self.out(self.rnn(h)[0][:, -1]).squeeze(-1)

    if cfg["kind"] == "vector":
        layers, width = [], cfg["features"]
        for units in cfg["hidden"]:
            layers += [nn.Linear(width, units), nn.ReLU()] + ([nn.Dropout(cfg["dropout"])] if cfg["dropout"] else [])
            width = units
        model = nn.Sequential(*layers, nn.Linear(width, cfg["classes"]))
    elif name == "cifar10_cnn":
        model = nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 32, 3), nn.ReLU(),
                              nn.MaxPool2d(2), nn.Dropout(0.25), nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
                              nn.Conv2d(64, 64, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.25), nn.Flatten(),
                              nn.Linear(64 * 6 * 6, 512), nn.ReLU(), nn.Dropout(0.5), nn.Linear(512, cfg["classes"]))
    elif name == "resnet_bn":
        model = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16, eps=1e-3, momentum=0.01), nn.ReLU(),
                              Residual(16, 16, 1), Residual(16, 32, 2), Residual(32, 64, 2),
                              nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, cfg["classes"]))
    else:
        model = Text()
    opt = {"sgd": lambda p: torch.optim.SGD(p, lr=0.01),
           "rmsprop": lambda p: torch.optim.RMSprop(p, lr=0.001 if cfg["kind"] == "vector" else 1e-4, alpha=0.9, eps=1e-7),
           "adam": lambda p: torch.optim.Adam(p, lr=0.001, eps=1e-7)}[cfg["optimizer"]](model.parameters())
    X = torch.from_numpy(x)
    if cfg["kind"] == "image":
        X = X.permute(0, 3, 1, 2).contiguous()  # the idiomatic NCHW layout
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
            X = X.contiguous(memory_format=torch.channels_last)
    Y = torch.from_numpy(labels)
    binary = cfg["kind"] == "text"
    if binary:
        Y = Y.float()

    def epoch():
        model.train()
        correct = torch.zeros((), dtype=torch.long)
        perm = torch.randperm(len(X))
        for i in range(0, len(X), cfg["batch"]):
            idx = perm[i:i + cfg["batch"]]
            xb, yb = X[idx], Y[idx]
            opt.zero_grad(set_to_none=True)
            out = model(xb)
            loss = F.binary_cross_entropy_with_logits(out, yb) if binary else F.cross_entropy(out, yb)
            loss.backward()
            opt.step()
            loss.item()  # any logging loop reads the loss every step
            with torch.no_grad():
                correct += ((out > 0) == (yb > 0.5)).sum() if binary else (out.argmax(1) == yb).sum()
        return correct.item() / len(X)
    timed(epoch)
""")

MODEL_KERAS_LIKE = textwrap.dedent("""
    def build(K):
        L = K.layers
        head = [L.Dense(1), L.Activation("sigmoid", dtype="float32")] if cfg["kind"] == "text" else \
            [L.Dense(cfg["classes"]), L.Activation("softmax", dtype="float32")]
        if cfg["kind"] == "vector":
            body = []
            for i, units in enumerate(cfg["hidden"]):
                body.append(L.Dense(units, activation="relu", **({"input_shape": (cfg["features"],)} if i == 0 else {})))
                if cfg["dropout"]:
                    body.append(L.Dropout(cfg["dropout"]))
            return K.Sequential(body + head)
        if name == "cifar10_cnn":
            return K.Sequential([
                L.Conv2D(32, 3, padding="same", activation="relu", input_shape=tuple(cfg["image"])),
                L.Conv2D(32, 3, activation="relu"), L.MaxPooling2D(), L.Dropout(0.25),
                L.Conv2D(64, 3, padding="same", activation="relu"), L.Conv2D(64, 3, activation="relu"),
                L.MaxPooling2D(), L.Dropout(0.25), L.Flatten(), L.Dense(512, activation="relu"), L.Dropout(0.5)] + head)
        if name == "resnet_bn":
            def residual(t, filters, stride):
                a = L.Conv2D(filters, 3, strides=stride, padding="same")(t)
                a = L.Activation("relu")(L.BatchNormalization()(a))
                a = L.BatchNormalization()(L.Conv2D(filters, 3, padding="same")(a))
                skip = t if stride == 1 and t.shape[-1] == filters else L.Conv2D(filters, 1, strides=stride)(t)
                return L.Activation("relu")(L.add([a, skip]))
            inputs = K.Input(tuple(cfg["image"]))
            h = L.Activation("relu")(L.BatchNormalization()(L.Conv2D(16, 3, padding="same")(inputs)))
            h = residual(residual(residual(h, 16, 1), 32, 2), 64, 2)
            h = L.GlobalAveragePooling2D()(h)
            for layer in head:
                h = layer(h)
            return K.Model(inputs, h)
        embed = [L.Embedding(cfg["words"], cfg["embed"], input_length=cfg["length"])]
        if name == "conv1d":
            return K.Sequential(embed + [L.Dropout(0.2), L.Conv1D(cfg["filters"], 3, activation="relu"),
                                         L.GlobalMaxPooling1D(), L.Dense(cfg["hidden"]), L.Dropout(0.2),
                                         L.Activation("relu")] + head)
        return K.Sequential(embed + [(L.LSTM if name == "lstm" else L.GRU)(cfg["units"])] + head)

    def compile_and_time(K, model, **compile_kwargs):
        lr = 0.001 if cfg["kind"] == "vector" or cfg["optimizer"] != "rmsprop" else 1e-4
        optimizer = {"sgd": K.optimizers.SGD(0.01), "rmsprop": K.optimizers.RMSprop(lr),
                     "adam": K.optimizers.Adam(0.001)}[cfg["optimizer"]]
        loss = "binary_crossentropy" if cfg["kind"] == "text" else "sparse_categorical_crossentropy"
        model.compile(optimizer, loss, metrics=["acc"], **compile_kwargs)
        y = labels.astype("float32")[:, None] if cfg["kind"] == "text" else labels
        timed(lambda: model.fit(x, y, batch_size=cfg["batch"], epochs=1, verbose=0))
""")

MODEL_FITGEN = MODEL_COMMON + MODEL_KERAS_LIKE + textwrap.dedent("""
    import fitgen
    from fitgen import layers, models, mixed_precision, optimizers
    class K:
        Sequential, Model, Input, layers, optimizers = models.Sequential, models.Model, fitgen.Input, layers, optimizers
    variant = sys.argv[4]
    if variant == "bf16":
        mixed_precision.set_global_policy("mixed_bfloat16")
    model = build(K)
    compile_and_time(K, model, **({"jit_compile": True} if variant == "jit" else {}))
""")

MODEL_KERAS = MODEL_COMMON + MODEL_KERAS_LIKE + textwrap.dedent("""
    import os
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    if sys.argv[4] == "keras3":
        os.environ["KERAS_BACKEND"] = "torch"
        import keras as K
        assert K.__version__.startswith("3"), K.__version__
    else:
        import tf_keras as K
    compile_and_time(K, build(K))
""")


def model_run(framework, name, repeats, python, threads=None):
    """(result dict, None) for one fresh process of `framework` training model `name`, or (None, error text)."""
    script, variant = {
        "pytorch loop": (MODEL_TORCH, "nchw"), "pytorch loop (channels_last)": (MODEL_TORCH, "channels_last"),
        "fitgen": (MODEL_FITGEN, "eager"), "fitgen jit": (MODEL_FITGEN, "jit"), "fitgen bf16": (MODEL_FITGEN, "bf16"),
        "tf-keras": (MODEL_KERAS, "tf"), "keras 3 (torch)": (MODEL_KERAS, "keras3")}[framework]
    env = dict(os.environ, PYTHONPATH=str(pathlib.Path(__file__).resolve().parents[1]))
    if threads:
        env.update(OMP_NUM_THREADS=str(threads), TF_NUM_INTRAOP_THREADS=str(threads), TF_NUM_INTEROP_THREADS="1")
    proc = subprocess.run([python, "-c", script, name, json.dumps(MODELS[name]), str(repeats), variant],
                          capture_output=True, text=True, env=env, timeout=3600)
    if proc.returncode != 0:
        return None, ((proc.stderr.strip().splitlines() or ["failed"])[-1])[:120]
    return json.loads(proc.stdout.strip().splitlines()[-1]), None


# --alternate: the eager frameworks set up in ONE process, then their epochs taking turns. On a shared machine the
# spread between processes (one fresh process against another of the same code: up to +-10% here) is larger
# than the differences measured; within one process it is not.
MODEL_ALTERNATING = textwrap.dedent("""
    import json, sys, time
    name, cfg, repeats, scripts = sys.argv[1], sys.argv[2], int(sys.argv[3]), json.loads(sys.argv[4])
    epochs = {}
    for label, source, variant in scripts:
        space = {"ALTERNATE": [], "__name__": "__alternate__"}
        sys.argv = ["-c", name, cfg, "1", variant]
        exec(source, space)
        epochs[label] = space["ALTERNATE"][0]
    warm = {}
    for label, epoch in epochs.items():
        t = time.perf_counter(); epoch(); warm[label] = time.perf_counter() - t
    wall, cpu = {label: [] for label in epochs}, {label: [] for label in epochs}
    order = list(epochs.items())
    for turn in range(repeats):
        for label, epoch in (order if turn % 2 == 0 else order[::-1]):  # no framework always follows another
            t, c = time.perf_counter(), time.process_time()
            epoch()
            wall[label].append(time.perf_counter() - t); cpu[label].append(time.process_time() - c)
    print(json.dumps({label: {"epoch_seconds": wall[label], "epoch_cpu_seconds": cpu[label],
                              "warmup_seconds": warm[label]} for label in epochs}))
""")
ALTERNATING = {"pytorch loop": (MODEL_TORCH, "nchw"), "pytorch loop (channels_last)": (MODEL_TORCH, "channels_last"),
               "fitgen": (MODEL_FITGEN, "eager")}


def run_alternating(names, frameworks, rounds, threads, epochs=3):
    """The eager `frameworks` of each model in one fresh process, `rounds * epochs` epochs each, alternating;
    returns {model: {framework: summary}} as `run_models` does."""
    frameworks = [f for f in frameworks if f in ALTERNATING]
    env = dict(os.environ, PYTHONPATH=str(pathlib.Path(__file__).resolve().parents[1]))
    if threads:
        env.update(OMP_NUM_THREADS=str(threads))
    results = {}
    for name in names:
        scripts = [(f, *ALTERNATING[f]) for f in frameworks]
        proc = subprocess.run([sys.executable, "-c", MODEL_ALTERNATING, name, json.dumps(MODELS[name]),
                               str(rounds * epochs), json.dumps(scripts)], capture_output=True, text=True, env=env,
                              timeout=3600)
        error = None if proc.returncode == 0 else ((proc.stderr.strip().splitlines() or ["failed"])[-1])[:120]
        runs = {} if error else json.loads(proc.stdout.strip().splitlines()[-1])
        results[name] = {f: _summary(MODELS[name]["samples"], [runs[f]] if f in runs else [], error)
                         for f in frameworks}
    return results


def _summary(samples, runs, error=None):
    wall = [t for r in runs for t in r["epoch_seconds"]]
    cpu = [t for r in runs for t in r["epoch_cpu_seconds"]]
    return {"error": error,
            "samples_per_s": samples / statistics.median(wall) if wall else None,
            "samples_per_cpu_s": samples / statistics.median(cpu) if cpu else None,
            "best_samples_per_cpu_s": samples / min(cpu) if cpu else None,
            "warmup_seconds": [r["warmup_seconds"] for r in runs], "epoch_seconds": wall, "epoch_cpu_seconds": cpu}


def run_models(names, frameworks, rounds, pythons, threads, epochs=3):
    """Frameworks take turns on each model for `rounds` rounds of `epochs` timed epochs (after a warm-up one);
    returns {model: {framework: summary}}."""
    results = {}
    for name in names:
        samples = MODELS[name]["samples"]
        runs = {framework: [] for framework in frameworks}
        errors = {}
        for _ in range(rounds):
            for framework in frameworks:
                if framework in errors:
                    continue
                result, error = model_run(framework, name, epochs, pythons.get(framework, sys.executable), threads)
                if error:
                    errors[framework] = error
                else:
                    runs[framework].append(result)
        results[name] = {framework: _summary(samples, runs[framework], errors.get(framework))
                         for framework in frameworks}
    return results


def print_models(results, threads):
    """One table: samples/s by CPU time (comparable under load) and by wall clock, each against the loop."""
    print(f"\n{'model':12} {'framework':29} {'samples/CPU-s':>13} {'ratio':>6} {'samples/s':>10} {'ratio':>6} "
          f"{'warm-up s':>9}   (threads: {threads or 'all'})")
    for name, row in results.items():
        base = row.get("pytorch loop", {})
        for framework, value in row.items():
            if value["error"] or value["samples_per_s"] is None:
                print(f"{name:12} {framework:29} {'n/a':>13}  ({(value['error'] or 'not run')[:60]})")
                continue

            def ratio(key):
                return f"{value[key] / base[key]:5.2f}x" if base.get(key) else "   n/a"
            warm = statistics.median(value["warmup_seconds"])
            print(f"{name:12} {framework:29} {value['samples_per_cpu_s']:13,.0f} {ratio('samples_per_cpu_s'):>6} "
                  f"{value['samples_per_s']:10,.0f} {ratio('samples_per_s'):>6} {warm:9.1f}")


if __name__ == "__main__":
    main()
