"""Two gloo ranks on the CPU against one plain process: same weights, same metrics, every sample once."""
import json
import os
import socket
import subprocess
import sys
import time

import distribute_worker as worker
import numpy as np
import pytest
import torch

from fitgen import distribute
from fitgen.data.arrays import ArrayAdapter
from fitgen.distribute import sharding

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
LAUNCH_TIMEOUT = 120


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env(**extra):
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("OMP_NUM_THREADS", "1")
    env.update({k: str(v) for k, v in extra.items()})
    return env


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    out = tmp_path_factory.mktemp("ranks")
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={_free_port()}",
               os.path.join(HERE, "distribute_worker.py"), "main", str(out)]
    done = subprocess.run(command, env=_env(FITGEN_DIST_TIMEOUT=60), capture_output=True, text=True,
                          timeout=LAUNCH_TIMEOUT, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-6000:]
    ranks = [json.loads((out / f"rank{r}.json").read_text()) for r in range(2)]
    return ranks, out


@pytest.fixture(scope="module")
def reference():
    model, results = worker.train(batch_size=20)
    results["weights"] = model.get_weights()
    return results


def test_two_ranks_of_batch_b_train_like_one_process_of_batch_2b(two_ranks, reference):
    ranks, _ = two_ranks
    assert [r["world_size"] for r in ranks] == [2, 2] and [r["rank"] for r in ranks] == [0, 1]
    for rank in ranks:
        for got, want in zip(rank["weights"], reference["weights"]):
            np.testing.assert_allclose(np.array(got), want, rtol=1e-5, atol=1e-6)


def test_logs_and_validation_metrics_equal_single_process_on_every_rank(two_ranks, reference):
    ranks, _ = two_ranks
    for rank in ranks:
        assert rank["history"].keys() == reference["history"].keys()
        for key, values in reference["history"].items():
            np.testing.assert_allclose(rank["history"][key], values, rtol=1e-5, err_msg=key)
        np.testing.assert_allclose(rank["evaluate"], reference["evaluate"], rtol=1e-5)


def test_sync_batchnorm_uses_global_batch_statistics(two_ranks):
    ranks, _ = two_ranks
    expected = worker.train_batchnorm(batch_size=20)
    for rank in ranks:  # moving mean/variance included: identical on every rank, equal to batch 2B's
        for got, want in zip(rank["batchnorm"], expected):
            np.testing.assert_allclose(np.array(got), want, rtol=1e-4, atol=1e-5)


def test_predict_gathers_every_sample_in_order_on_every_rank(two_ranks, reference):
    ranks, _ = two_ranks
    for rank in ranks:
        assert len(rank["predict"]) == worker.NUM_VAL
        np.testing.assert_allclose(rank["predict"], reference["predict"], rtol=1e-5, atol=1e-6)


def test_sequence_epoch_covers_every_index_once_across_ranks(two_ranks):
    ranks, _ = two_ranks
    assert [r["sequence_steps"] for r in ranks] == [4, 4]  # 7 batches on 2 ranks: same step count
    orders = []
    for epoch in range(2):
        merged = ranks[0]["sequence"][epoch] + ranks[1]["sequence"][epoch]
        assert sorted(merged) == list(range(7))
        orders.append(merged)
    assert orders[0] != orders[1]  # reshuffled each epoch, from one agreed seed


def test_stop_training_on_one_rank_stops_every_rank_at_the_same_batch(two_ranks):
    ranks, _ = two_ranks
    assert [r["stop"] for r in ranks] == [{"epochs": 1, "batches": 3}] * 2


def test_checkpoint_of_rank_zero_loads_in_a_plain_process(two_ranks, reference):
    ranks, out = two_ranks
    assert distribute.current() is None
    with np.load(out / "checkpoint.npz") as saved:
        weights = [saved[f"arr_{i}"] for i in range(len(saved.files))]
    model = worker.build_model()
    model.set_weights(weights)
    for got, want in zip(model.get_weights(), ranks[0]["weights"]):
        np.testing.assert_array_equal(got, np.array(want, dtype=got.dtype))


def test_killing_one_rank_makes_the_other_fail_within_a_bounded_time(tmp_path):
    port = _free_port()
    script = os.path.join(HERE, "distribute_worker.py")
    procs = [subprocess.Popen([sys.executable, script, "crash", str(tmp_path)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True,
                              env=_env(RANK=r, LOCAL_RANK=r, WORLD_SIZE=2, MASTER_ADDR="127.0.0.1", MASTER_PORT=port,
                                       FITGEN_DIST_TIMEOUT=10))
             for r in range(2)]
    started = time.monotonic()
    try:
        codes = [p.wait(timeout=60) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        errors = [p.communicate()[1] for p in procs]
    assert codes[1] == -9
    assert codes[0] != 0, errors[0][-2000:]
    assert time.monotonic() - started < 60


# ------------------------------------------------------------------------------------ in-process units
class _FakeContext:
    def __init__(self, rank, world_size=2):
        self.rank, self.world_size, self.device = rank, world_size, torch.device("cpu")

    def broadcast_int(self, value):
        return value


def _adapter(n, batch_size, shuffle=True, seed=5):
    x = np.arange(n, dtype="float32").reshape(n, 1)
    adapter = ArrayAdapter([x], [x.copy()], [None], batch_size=batch_size, shuffle=shuffle)
    adapter.seed = seed
    return adapter


@pytest.mark.parametrize("n, per_rank, world", [(101, 10, 2), (23, 4, 3), (5, 4, 2), (40, 5, 4)])
def test_rank_batches_concatenate_to_the_single_process_batches(n, per_rank, world):
    single = [b[0][0].reshape(-1).tolist() for b in _adapter(n, per_rank * world).epoch_batches(3)]
    shards = [sharding.shard(_FakeContext(r, world), _adapter(n, per_rank), True) for r in range(world)]
    per_rank_batches = [[(b[0][0].reshape(-1).tolist(), s.padding, s.loss_scale()) for b in s.epoch_batches(3)]
                        for s in shards]
    assert all(len(batches) == len(single) for batches in per_rank_batches)
    for step, expected in enumerate(single):
        real = [per_rank_batches[r][step] for r in range(world) if not per_rank_batches[r][step][1]]
        assert [v for values, _, _ in real for v in values] == expected
        # scales: sum over ranks of scale / world == 1, i.e. DDP's average is the global mean
        assert sum(per_rank_batches[r][step][2] for r in range(world)) / world == pytest.approx(1.0)


def test_evaluation_shards_are_contiguous_blocks_without_duplicates():
    blocks = [sharding.shard(_FakeContext(r, 3), _adapter(10, 3, shuffle=False), False) for r in range(3)]
    values = [[v for b in s.epoch_batches(0) for v in b[0][0].reshape(-1).tolist()] for s in blocks]
    assert values == [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]]
    assert [s.num_batches() for s in blocks] == [2, 1, 1]


def test_single_process_is_not_distributed():
    assert distribute.current() is None
    assert distribute.is_chief() and distribute.get_rank() == 0 and distribute.get_world_size() == 1
    distribute.barrier()  # no-op


def test_bad_timeout_is_rejected(monkeypatch):
    from fitgen.distribute import context
    monkeypatch.setenv(context.TIMEOUT_ENV, "soon")
    with pytest.raises(ValueError, match="FITGEN_DIST_TIMEOUT"):
        context._timeout()


def test_a_models_own_train_step_trains_like_one_process_of_batch_2b(two_ranks):
    ranks, _ = two_ranks
    expected = worker.train_custom_step(batch_size=20)
    for rank in ranks:  # the optimizer averaged the gradients over the ranks
        for got, want in zip(rank["custom_step"], expected):
            np.testing.assert_allclose(np.array(got), want, rtol=1e-4, atol=1e-5)


def test_the_guide_gan_keeps_every_rank_in_step(two_ranks):
    ranks, _ = two_ranks
    for got, want in zip(ranks[1]["custom_gan"], ranks[0]["custom_gan"]):
        np.testing.assert_allclose(np.array(got), np.array(want), rtol=1e-6, atol=1e-7)
