"""Each rank's share of the data: no overlap, nothing dropped, no padded duplicates in metrics.

Training (arrays): one epoch order for all ranks, from a seed rank 0 broadcasts and the epoch number
(the order a single process would use). Global batch k is the next `batch_size * world_size` samples of
that order; rank r takes the r-th of `world_size` near-equal contiguous parts of it, so the ranks'
batch k, concatenated in rank order, is exactly the single process's batch k of size
`batch_size * world_size`. Every rank runs the same number of steps, so no rank waits in a gradient
all-reduce that another never enters. When a ragged last global batch has fewer samples than ranks, a
rank without samples runs a one-sample stand-in batch whose loss is scaled by 0 and which metrics skip.

Loss scale: DDP averages gradients over ranks; scaling rank r's mean loss by n_r * world / n_global
makes that average the gradient of the global batch's mean loss, also for a ragged last batch.

Training (Sequences): the Sequence's batch indices follow the same seeded order; global step k takes
indices k*world .. k*world + world - 1, one per rank. Batch sizes are only known once loaded, so each
step all-reduces (n_r, ran_out) (one tiny collective): it gives n_global for the loss scale and stops
every rank together when a generator runs out on any of them.

Plain generators and iterables cannot be split by fitgen: each rank runs its own (see get_rank()).

Evaluation and predict: rank r takes the r-th contiguous block of the samples (or Sequence indices), in
batches of the usual size. No collective runs per step, so ranks may run different step counts; the
metric sums are all-reduced once at the end (ddp.reduce_metrics), and predictions are gathered in order.
"""
import math

import torch

from fitgen.data.arrays import batch_spec
from fitgen.distribute.context import warn_once
from fitgen.engine.step import batch_size_of


def split_bounds(count, world_size, rank):
    """[lo, hi) of part `rank` when `count` items are cut into `world_size` near-equal contiguous parts."""
    base, extra = divmod(count, world_size)
    lo = rank * base + min(rank, extra)
    return lo, lo + base + (1 if rank < extra else 0)


def shard(context, adapter, training):
    """`adapter` restricted to this rank's share (None stays None)."""
    if adapter is None:
        return None
    if getattr(adapter, "num_samples", None) is not None and adapter.indexed:
        return ShardedArrayAdapter(adapter, context, training)
    return ShardedStreamAdapter(adapter, context, training)


class _Shard:
    """What both sharded adapters expose to the engine besides the adapter interface."""

    def __init__(self, base, context, training):
        self.base = base
        self.context = context
        self.training = training
        self.padding = False
        self._local = self._global = 1

    @property
    def padding(self):
        """True while the current batch is a stand-in: loss scale 0, skipped by metrics and SyncBatchNorm."""
        return self._padding

    @padding.setter
    def padding(self, value):
        self._padding = value
        self.context.padding = value  # read by sync_batchnorm, which sees layers, not adapters

    def __getattr__(self, name):  # everything else (num_samples, batches_seen, ...) is the base's
        if name in ("base", "_padding"):
            raise AttributeError(name)
        return getattr(self.base, name)

    @property
    def seed(self):
        return self.base.seed

    @seed.setter
    def seed(self, value):
        self.base.seed = int(value)

    def loss_scale(self):
        """Factor on this rank's mean loss that makes DDP's gradient average the global batch's mean."""
        if self._global == 0:
            return 0.0
        return self._local * self.context.world_size / self._global

    def epoch_stats(self):
        return self.base.epoch_stats()

    def on_epoch_end(self):
        self.base.on_epoch_end()

    def close(self):
        self.base.close()

    def gather(self, batches):
        """Every rank's list of per-batch outputs, concatenated in rank order (identical on all ranks)."""
        return [batch for part in self.context.all_gather_object(batches) for batch in part]


class ShardedArrayAdapter(_Shard):
    """Rank r's batches of an `ArrayAdapter` (see the module notes)."""

    gathers = True

    def __init__(self, base, context, training):
        super().__init__(base, context, training)
        base.device = context.device
        # Under torchrun batch_size is per process; under multi_gpu_model it is global (Keras 2).
        global_batch = getattr(context, "batch_size_is_global", False)
        if training:
            self.per_rank_batch_size = base.batch_size
            if not global_batch:
                base.batch_size = base.batch_size * context.world_size  # the base now makes global batches
            base.seed = context.broadcast_int(base.seed)
        else:
            self.per_rank_batch_size = -(-base.batch_size // context.world_size) if global_batch else base.batch_size
            self._block = split_bounds(base.num_samples, context.world_size, context.rank)

    def num_batches(self):
        if self.training:
            return self.base.num_batches()
        lo, hi = self._block
        return math.ceil((hi - lo) / self.per_rank_batch_size)

    def epoch_plan(self, epoch):
        """[(batch spec, samples in this rank's part, samples in the global batch, is stand-in)]."""
        if not self.training:
            lo, hi = self._block
            return [((start, min(start + self.per_rank_batch_size, hi), None), 0, 0, False)
                    for start in range(lo, hi, self.per_rank_batch_size)]
        world, rank = self.context.world_size, self.context.rank
        plan = []
        for start, stop, indices in self.base.epoch_plan(epoch):
            count = stop - start if indices is None else int(indices.numel())
            lo, hi = split_bounds(count, world, rank)
            padding = hi == lo
            if padding:
                lo, hi = 0, 1  # stand-in: the global batch's first sample, weighted 0
            spec = (start + lo, start + hi, None) if indices is None else batch_spec(indices, lo, hi)
            plan.append((spec, 0 if padding else hi - lo, count, padding))
        return plan

    def epoch_batches(self, epoch=0, skip=0, plan=None):
        plan = (self.epoch_plan(epoch) if plan is None else plan)[skip:]
        batches = self.base.epoch_batches(epoch, plan=[spec for spec, _, _, _ in plan])
        for (_, local, count, padding), batch in zip(plan, batches):
            if self.training:
                self._local, self._global, self.padding = local, count, padding
            yield batch


class ShardedStreamAdapter(_Shard):
    """Rank r's batches of a `StreamAdapter`: a share of a Sequence's indices, or its own generator."""

    def __init__(self, base, context, training):
        super().__init__(base, context, training)
        self._ran_out = False
        self.gathers = base.indexed
        if not base.indexed:
            source = base.source
            shards_itself = getattr(source, "shardable", False) or _has_distributed_sampler(source)
            if not shards_itself:
                warn_once("generator", "fitgen runs a Python generator on every rank as it is: unless it takes "
                          "its share with fitgen.distribute.get_rank() / get_world_size(), every rank sees the "
                          "same data (an epoch then holds world_size copies of each batch).")
            return
        base.seed = context.broadcast_int(base.seed)
        length = len(base.source)
        if training:
            self._steps = base.steps if base.steps is not None else math.ceil(length / context.world_size)
        else:
            self._block = split_bounds(length, context.world_size, context.rank)

    @property
    def exhausted(self):
        return self._ran_out or self.base.exhausted

    def num_batches(self):
        if not self.base.indexed:
            return self.base.num_batches()
        if self.training:
            return self._steps
        return self._block[1] - self._block[0]

    def epoch_plan(self, epoch):
        """[(sequence index, is stand-in)] for this rank's steps of `epoch`."""
        base, world, rank = self.base, self.context.world_size, self.context.rank
        if not self.training:
            return [(index, False) for index in range(*self._block)]
        length = len(base.source)
        padded = base.steps is None and self._steps * world > length
        order = base.epoch_plan(epoch, steps=min(self._steps * world, length) if padded else self._steps * world)
        plan = []
        for step in range(self._steps):
            position = step * world + rank
            if position >= len(order):
                plan.append((order[step * world], True))
            else:
                plan.append((order[position], False))
        return plan

    def epoch_batches(self, epoch=0, skip=0, plan=None):
        if not self.base.indexed:
            yield from self._synchronised(self.base.epoch_batches(epoch, skip), skip, None)
            return
        plan = self.epoch_plan(epoch) if plan is None else plan
        batches = self.base.epoch_batches(epoch, skip, plan=[index for index, _ in plan])
        if not self.training:
            yield from batches
            return
        yield from self._synchronised(batches, skip, plan)

    def _synchronised(self, batches, skip, plan):
        if not self.training:
            yield from batches
            return
        steps = self._steps if self.base.indexed else self.base.steps
        context = self.context
        position = skip
        while steps is None or position < steps:
            batch = next(batches, None)
            padding = batch is not None and plan is not None and plan[position][1]
            local = 0 if batch is None or padding else batch_size_of(batch[0])
            # One tiny collective per step: n_global for the loss scale, and a joint stop when any rank
            # ran out of data (else the others would wait for its gradients until the timeout).
            totals = context.all_reduce_sum(torch.tensor([float(local), float(batch is None)], dtype=torch.float64))
            if totals[1].item() > 0:
                self._ran_out = True
                return
            self._local, self._global, self.padding = local, int(totals[0].item()), padding
            yield batch
            position += 1


def _has_distributed_sampler(source):
    loader = getattr(source, "loader", None) or getattr(source, "data_loader", None)
    sampler = getattr(loader, "sampler", None)
    batch_sampler = getattr(getattr(loader, "batch_sampler", None), "sampler", None)
    from torch.utils.data.distributed import DistributedSampler
    return isinstance(sampler, DistributedSampler) or isinstance(batch_sampler, DistributedSampler)
