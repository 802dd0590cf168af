"""How one fit/evaluate/predict call is distributed, chosen once per call: one object, one small interface.

`LocalStrategy` (a single process) leaves everything as it is. `DataParallelStrategy` (torchrun, or a process
group the user created) shards each adapter, wraps the built-in train step in DistributedDataParallel, reduces
the epoch's metric sums over ranks, keeps `stop_training` identical on every rank, gathers predictions, and
lets only rank 0 write files and print. The trainer talks to either through the same methods and never asks
which one it has.
"""
import contextlib

from fitgen.distribute import context as distribute_context
from fitgen.distribute import ddp
from fitgen.engine.step import CustomStepRunner, PredictRunner, StepRunner, make_predict_step, make_test_step


class LocalStrategy:
    """One process: data as it is, the model's own steps, metrics as counted."""

    is_chief = True

    def shard(self, adapter, training):
        """This process's share of `adapter` (all of it)."""
        return adapter

    def train_runner(self, model, adapter):
        if model._overrides("train_step"):
            return CustomStepRunner(model, model.train_step, "train")
        return StepRunner(model._make_train_step(), model._epoch_metrics)

    def test_runner(self, model, adapter):
        if model._overrides("test_step"):
            return CustomStepRunner(model, model.test_step, "test")
        return StepRunner(make_test_step(model), model._epoch_metrics)

    def predict_runner(self, model, adapter):
        if model._overrides("predict_step"):
            return CustomStepRunner(model, model.predict_step, "predict")
        return PredictRunner(make_predict_step(model))

    def running(self, runner, adapter):
        """Context around an epoch of `runner` (distribution aggregates a custom step's gradients in it)."""
        return contextlib.nullcontext()

    def reduce(self, runner):
        """Makes the runner's epoch metrics those of all ranks (nothing to do in one process)."""

    def callbacks(self, user_callbacks, model):
        """Callbacks the strategy adds after the user's (none in one process)."""
        return []

    def gather(self, adapter, collected):
        """Every rank's predictions in order (this process's)."""
        return collected


class DataParallelStrategy(LocalStrategy):
    """torch.distributed data parallelism across the ranks of `context` (see fitgen.distribute)."""

    def __init__(self, context):
        self.context = context
        self.is_chief = context.is_chief

    def shard(self, adapter, training):
        from fitgen.distribute import sharding
        return None if adapter is None else sharding.shard(self.context, adapter, training)

    def train_runner(self, model, adapter):
        if model._overrides("train_step"):
            return CustomStepRunner(model, model.train_step, "train")
        return StepRunner(ddp.make_train_step(self.context, model, adapter), model._epoch_metrics,
                          counts=lambda: not adapter.padding)

    def test_runner(self, model, adapter):
        if model._overrides("test_step"):
            return CustomStepRunner(model, model.test_step, "test")
        return StepRunner(make_test_step(model), model._epoch_metrics, counts=lambda: not adapter.padding)

    def running(self, runner, adapter):
        if not isinstance(runner, CustomStepRunner):
            return contextlib.nullcontext()  # the built-in step's gradients are all-reduced by DDP
        return ddp.aggregating_gradients(self.context, adapter)

    def reduce(self, runner):
        if isinstance(runner, StepRunner):
            ddp.reduce_metrics(self.context, runner.metrics)

    def callbacks(self, user_callbacks, model):
        return [ddp.stop_callback(self.context, user_callbacks, model)]

    def gather(self, adapter, collected):
        if getattr(adapter, "gathers", False):
            return adapter.gather(collected)  # all ranks' outputs, in order
        return collected


_LOCAL = LocalStrategy()


def strategy_for(model):
    """The strategy of this call: local, or data parallel (with the model moved to this rank's device)."""
    context = distribute_context.current()
    if context is None:
        return _LOCAL
    ddp.prepare_model(context, model)
    return DataParallelStrategy(context)
