"""Batches from things that make batches: `Sequence`, generators, torch Datasets and DataLoaders.

Who owns what: the Prefetcher (data/pipeline) runs the producers, orders batches, and calls
`Sequence.on_epoch_end`; this adapter checks each item's structure, routes it to the model's inputs and
outputs, applies class_weight, and hands device tensors in the model's dtypes to the loop (BatchFinisher).
Array payloads arrive as NumPy views of shared memory and are wrapped without a copy; they stay valid until
the loop asks for the next batch.
"""
import itertools
import os
import warnings

import torch

from fitgen.data import structure
from fitgen.data.batch import BatchFinisher, as_tensor
from fitgen.data.checks import BatchPlan
from fitgen.data.data_adapter import DataAdapter
from fitgen.data.pipeline import Prefetcher
from fitgen.data.pipeline.prefetcher import as_source
from fitgen.data.weights import apply_class_weights, class_weight_list, sample_weight_list

# Above this share of an epoch spent waiting for data, fit says once that more workers would help.
INPUT_BOUND_SHARE = 0.5
# Short epochs are dominated by start-up: only epochs at least this long (seconds, batches) are judged.
INPUT_BOUND_MIN_SECONDS = 2.0
INPUT_BOUND_MIN_BATCHES = 20


class StreamAdapter(DataAdapter):
    """One epoch of checked, routed, device-ready batches at a time from a batch source.

    Args:
        model: the model the batches feed (routing by input/output names, dtypes, device).
        source: an `IndexedSource` (a Sequence, a map-style torch Dataset) or a `StreamSource` (a generator,
            an iterable, a DataLoader), as `fitgen.data.adapter.get_adapter` chose it.
        steps: batches per epoch (None: the source's length; required for plain streams).
        shuffle: a new batch order each epoch (indexed sources).
        role: 'training', 'validation', 'evaluate' or 'predict' (names arguments in messages).
        inputs_only: items may be inputs alone (predict).
        peeked: the first item of a generator, already pulled to build the model (it is delivered first).
    """

    volatile_batches = True  # arrays are views of reusable shared slots: copy what must outlive a step

    def __init__(self, model, source, steps=None, shuffle=False, role="training", class_weight=None,
                 max_queue_size=10, workers=1, use_multiprocessing=False, inputs_only=False, timeout=None,
                 seed=None, peeked=None):
        self.model = model
        self.role = role
        self.inputs_only = inputs_only
        self.source = source = as_source(source)
        self.indexed = hasattr(source, "get_batch")
        self._peeked = peeked
        length = len(source) if self.indexed else getattr(source, "num_batches", None)
        if length == 0:
            argument = "validation_data" if role == "validation" else "x"
            raise ValueError(f"Expected input data to be non-empty: `{argument}` ({_user_name(source)}) has no "
                             "batches (its length is 0).")
        if steps is None and length is None:
            what = {"training": "steps_per_epoch", "validation": "validation_steps"}.get(role, "steps")
            raise ValueError(f"`{what}=None` is only valid for a generator based on the `fitgen.utils.Sequence` "
                             f"class. Please specify `{what}` or use the `fitgen.utils.Sequence` class.")
        # A DataLoader's stream chains passes over it: one epoch is one pass unless told otherwise.
        self.steps = steps if steps is not None or self.indexed else length
        self._length = length
        self.class_weights = class_weight_list(model, class_weight)
        self.plan = None  # the BatchPlan, made (again) at each epoch's first batch, once the model is built
        self.finisher = BatchFinisher(model)
        device = model._device()
        self.prefetcher = Prefetcher(source, workers=workers, use_multiprocessing=use_multiprocessing,
                                     max_queue_size=max_queue_size, shuffle=bool(shuffle) and self.indexed,
                                     seed=seed, timeout=timeout, name=role,
                                     device=device if device.type == "cuda" else None)
        self._threads_before = None
        if use_multiprocessing and workers and device.type == "cpu":
            # torch's intra-op threads busy-wait between ops and would take the cores the data workers need:
            # during this fit the trainer keeps the cores the workers leave (at least one).
            available = max(1, (os.cpu_count() or 1) - int(workers))
            if torch.get_num_threads() > available:
                self._threads_before = torch.get_num_threads()
                torch.set_num_threads(available)
        self.exhausted = False
        self.batches_seen = 0
        self._warned_input_bound = False
        self._last_stats = {}

    def num_batches(self):
        if self.steps is not None:
            return self.steps
        return len(self.source) if self.indexed else self._length

    def sample_inputs(self):
        if self._peeked is not None:
            item = self._peeked
        elif self.indexed:
            item = self.source.get_batch(0)
        else:
            return None
        return item if self.inputs_only and not isinstance(item, tuple) else structure.unpack_batch(item)[0]

    @property
    def seed(self):
        return self.prefetcher.seed

    @seed.setter
    def seed(self, value):
        self.prefetcher.seed = int(value)

    def epoch_plan(self, epoch, steps=None):
        """This epoch's batch indices: `steps` of them (default the epoch's), continuing into further passes."""
        if not self.indexed:
            return super().epoch_plan(epoch)
        steps = self.num_batches() if steps is None else steps
        return list(self.prefetcher.epoch_order(epoch, len(self.source), steps))

    def epoch_batches(self, epoch=0, skip=0, plan=None):
        """One epoch's batches; `skip` consumes and drops the first ones (resuming mid-epoch)."""
        count = 0
        steps = self.steps if plan is None else None
        for item in self.prefetcher.iter_epoch(epoch, steps, order=plan):
            count += 1
            self.batches_seen += 1
            if count > skip:
                try:
                    batch = self._convert(item, first=count == skip + 1)
                except (ValueError, TypeError) as error:
                    raise _renamed(error, f"{self._which_batch(epoch, count - 1, plan)}: {error}") from error
                yield batch
        expected = self.num_batches() if plan is None else len(plan)
        if self.prefetcher.exhausted and (expected is None or count < expected):
            self.exhausted = True
        self._record_stats()

    def _record_stats(self):
        stats = self.prefetcher.epoch_stats()
        elapsed = max(stats["elapsed"], 1e-9)
        share = min(1.0, stats["data_wait"] / elapsed)
        self._last_stats = {"data_wait": share}
        meaningful = elapsed > INPUT_BOUND_MIN_SECONDS and stats["batches"] >= INPUT_BOUND_MIN_BATCHES
        if self.role == "training" and meaningful and share > INPUT_BOUND_SHARE and not self._warned_input_bound:
            self._warned_input_bound = True
            workers = self.prefetcher.workers
            kind = "processes" if self.prefetcher.use_multiprocessing else "threads"
            warnings.warn(f"Training is input-bound: {100 * share:.0f}% of the epoch was spent waiting for data "
                          f"({stats['data_wait']:.2f}s of {elapsed:.2f}s) with workers={workers} ({kind}). More "
                          "workers (and use_multiprocessing=True for CPU-heavy batches) would help.",
                          stacklevel=2)

    def epoch_stats(self):
        return dict(self._last_stats)

    def _convert(self, item, first):
        """One item of the source -> (x, y, sample_weight) lists of device tensors, checked (see checks.py)."""
        model = self.model
        if self.inputs_only and not isinstance(item, tuple):
            x, y, sw = item, None, None
        else:
            x, y, sw = structure.unpack_batch(item, source="generator" if not self.indexed else "Sequence")
        x_list = structure.align(x, model.input_names, "x")
        y_list = structure.align(y, model.output_names, "y", allow_missing=True) if y is not None \
            else [None] * len(model.output_names)
        sw_list = [None] * len(y_list) if sw is None else sample_weight_list(model, sw)
        structure.check_lengths(x_list, y_list, sw_list)
        if not self.inputs_only and y is None and self.role != "predict" and _needs_targets(model):
            raise ValueError("the batch has no targets: a generator used for training or evaluation must yield "
                             "(x, y) or (x, y, sample_weight).")
        if first or self.plan is None:
            self.plan = BatchPlan(model, check_targets=not self.inputs_only)
        self.plan.check_batch(x_list, y_list, sw_list, first)
        x_list, y_list, sw_list = self.finisher.finish(*([None if a is None else as_tensor(a) for a in group]
                                                         for group in (x_list, y_list, sw_list)))
        if self.class_weights:
            sw_list = apply_class_weights(self.class_weights, y_list, sw_list)
        return x_list, y_list, sw_list

    def _which_batch(self, epoch, position, plan):
        """'Invalid batch 3 of epoch 2 of the training data (MySequence[17])': the batch, for messages."""
        what = {"training": "training data", "validation": "validation data", "evaluate": "evaluation data",
                "predict": "prediction data"}.get(self.role, f"{self.role} data")
        where = _user_name(self.source)
        if self.indexed:
            try:
                order = plan if plan is not None else self.epoch_plan(epoch)
                where += f"[{order[position]!r}]" if hasattr(self.source, "sequence") else \
                    f", batch {order[position]!r}"
            except Exception:  # naming the index is a courtesy; the error being reported is what matters
                pass
        # Validation, evaluate and predict data run one pass per call: only training batches have an epoch.
        when = f" of epoch {epoch + 1}" if self.role == "training" else ""
        return f"Invalid batch {position}{when} of the {what} ({where})"

    def close(self):
        try:
            self.prefetcher.close()
        finally:
            if self._threads_before is not None:
                torch.set_num_threads(self._threads_before)
                self._threads_before = None


def _needs_targets(model):
    """False when the model's loss comes only from `add_loss` (no output has a loss) or its own train_step."""
    specs = getattr(model, "_output_specs", None)
    return bool(specs) and any(spec.loss_fn is not None for spec in specs)


def _user_name(source):
    """The class name of what the user passed (MySequence, DataLoader, generator) behind a batch source."""
    user = next((getattr(source, name) for name in ("sequence", "dataset", "loader", "generator")
                 if hasattr(source, name)), source)
    return type(user).__name__


def _renamed(error, message):
    """`error`'s type with `message` (its base ValueError / TypeError when the type wants other arguments)."""
    try:
        return type(error)(message)
    except Exception:
        return (TypeError if isinstance(error, TypeError) else ValueError)(message)


def peek_generator(data, model):
    """(first item, stream with it put back) for a generator feeding a model that is not built yet."""
    if model.built_for_data():
        return None, data
    first = next(data)
    return first, itertools.chain([first], data)
