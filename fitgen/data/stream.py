"""Batches from things that make batches: `Sequence`, generators, torch Datasets and DataLoaders.

Who owns what: the Prefetcher (data/pipeline) runs the producers, orders batches, and calls
`Sequence.on_epoch_end`; this adapter checks each item's structure, routes it to the model's inputs and
outputs, applies class_weight, and hands torch tensors to the loop. Array payloads arrive as NumPy views of
shared memory and are wrapped without a copy; they stay valid until the loop asks for the next batch.
"""
import inspect
import itertools
import os
import warnings

import numpy as np
import torch

from fitgen.data import structure
from fitgen.data.arrays import apply_class_weights, finish_batch
from fitgen.data.pipeline import Prefetcher, SequenceSource
from fitgen.data.sequence import Sequence

# Above this share of an epoch spent waiting for data, fit says once that more workers would help.
INPUT_BOUND_SHARE = 0.5
# Short epochs are dominated by start-up: only epochs at least this long (seconds, batches) are judged.
INPUT_BOUND_MIN_SECONDS = 2.0
INPUT_BOUND_MIN_BATCHES = 20


def _make_source(data, shuffle):
    """(source, is_indexed, num_batches or None)."""
    from fitgen.data.generator import GeneratorSource
    from fitgen.data.torch_data import DataLoaderSource, DatasetSource
    if isinstance(data, Sequence) or (hasattr(data, "__getitem__") and hasattr(data, "__len__")
                                      and hasattr(data, "on_epoch_end")):
        return SequenceSource(data), True, len(data)
    if isinstance(data, torch.utils.data.DataLoader):
        source = DataLoaderSource(data)
        return source, False, source.num_batches
    if isinstance(data, torch.utils.data.Dataset) and hasattr(data, "__getitem__") and hasattr(data, "__len__"):
        source = DatasetSource(data, batch_size=32, shuffle=bool(shuffle))
        return source, True, len(source)
    return GeneratorSource(data), False, None


class StreamAdapter:
    """One epoch of checked, routed, device-ready batches at a time from a streaming source."""

    volatile_batches = True  # arrays are views of reusable shared slots: copy what must outlive a step

    def __init__(self, model, data, steps=None, shuffle=False, role="training", class_weight=None,
                 max_queue_size=10, workers=1, use_multiprocessing=False, inputs_only=False, timeout=None,
                 seed=None):
        self.model = model
        self.role = role
        self.inputs_only = inputs_only
        if inspect.isgenerator(data) and not model.built_for_data():
            first = next(data)
            data = itertools.chain([first], data)
            self._peeked = first
        else:
            self._peeked = None
        self.source, indexed, length = _make_source(data, shuffle)
        self.indexed = indexed
        if steps is None and length is None:
            what = {"training": "steps_per_epoch", "validation": "validation_steps"}.get(role, "steps")
            raise ValueError(f"`{what}=None` is only valid for a generator based on the `fitgen.utils.Sequence` "
                             f"class. Please specify `{what}` or use the `fitgen.utils.Sequence` class.")
        # A DataLoader's stream chains passes over it: one epoch is one pass unless told otherwise.
        self.steps = steps if steps is not None or indexed else length
        self._length = length
        self.class_weights = None
        if class_weight is not None:
            from fitgen.data.adapter import class_weight_list
            self.class_weights = class_weight_list(model, class_weight)
        self.prefetcher = Prefetcher(self.source, workers=workers, use_multiprocessing=use_multiprocessing,
                                     max_queue_size=max_queue_size, shuffle=bool(shuffle) and indexed,
                                     seed=seed, timeout=timeout, name=role,
                                     device=_cuda_or_none(model._device()))
        self._threads_before = None
        if use_multiprocessing and workers and model._device().type == "cpu":
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
        """The first batch's inputs, to build a model that has not seen data yet."""
        item = self._peeked if self._peeked is not None else self.source.get_batch(0) if self.indexed else None
        if item is None:
            return None
        return item if self.inputs_only and not isinstance(item, tuple) else structure.unpack_batch(item)[0]

    @property
    def seed(self):
        return self.prefetcher.seed

    @seed.setter
    def seed(self, value):
        self.prefetcher.seed = int(value)

    def epoch_batches(self, epoch=0, skip=0):
        """One epoch's batches; `skip` consumes and drops the first ones (resuming mid-epoch)."""
        count = 0
        for item in self.prefetcher.iter_epoch(epoch, self.steps):
            count += 1
            self.batches_seen += 1
            if count > skip:
                yield self._convert(item, count - 1)
        expected = self.num_batches()
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

    def _convert(self, item, index):
        model = self.model
        device = model._device()
        if self.inputs_only and not isinstance(item, tuple):
            x, y, sw = item, None, None
        else:
            x, y, sw = structure.unpack_batch(item, source="generator" if not self.indexed else "Sequence")
        try:
            x_list = structure.align(x, model.input_names, "x")
            y_list = structure.align(y, model.output_names, "y", allow_missing=True) if y is not None \
                else [None] * len(model.output_names)
            sw_list = _sample_weights(model, sw)
            structure.check_lengths(x_list, y_list, sw_list)
        except ValueError as error:
            raise ValueError(f"Malformed batch {index} from the {self.role} data: {error}") from error
        if not self.inputs_only and y is None and self.role != "predict":
            raise ValueError(f"Batch {index} from the {self.role} data has no targets: a generator used for "
                             "training or evaluation must yield (x, y) or (x, y, sample_weight).")
        x_list = [_tensor(a, device) for a in x_list]
        y_list = [_tensor(a, device) for a in y_list]
        sw_list = [_tensor(a, device, weights=True) for a in sw_list]
        if self.class_weights:
            sw_list = apply_class_weights(self.class_weights, y_list, sw_list)
        return x_list, y_list, sw_list

    def on_epoch_end(self):
        pass  # the Prefetcher calls the source's on_epoch_end once the epoch's batches are consumed

    def close(self):
        try:
            self.prefetcher.close()
        finally:
            if self._threads_before is not None:
                torch.set_num_threads(self._threads_before)
                self._threads_before = None


def _cuda_or_none(device):
    # On CUDA the Prefetcher pins its slots and copies batch k+1 on a side stream while step k runs.
    return device if device.type == "cuda" else None


def _sample_weights(model, sw):
    if sw is None:
        return [None] * len(model.output_names)
    from fitgen.data.adapter import sample_weight_list
    return sample_weight_list(model, sw)


def _tensor(array, device, weights=False):
    if array is None:
        return None
    if isinstance(array, np.ndarray):
        if array.dtype == object:
            raise TypeError(f"A batch array has dtype object (shape {array.shape}); fitgen needs numeric arrays.")
        # torch can alias neither read-only memory nor negative strides (a generator's `x[:, ::-1]`): copy those.
        copy = not array.flags.writeable or any(stride < 0 for stride in array.strides)
        tensor = torch.from_numpy(array.copy() if copy else array)
    elif isinstance(array, torch.Tensor):
        tensor = array
    else:
        tensor = torch.as_tensor(np.asarray(array))
    return finish_batch(tensor, device, weights)


def stream_adapter(model, data, **kwargs):
    adapter = StreamAdapter(model, data, **kwargs)
    sample = adapter.sample_inputs() if not model.built_for_data() else None
    if sample is not None:
        model._prepare_for(sample)
    return adapter
