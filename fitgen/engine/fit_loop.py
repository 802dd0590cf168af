"""The bodies of fit, evaluate and predict: data adapters in, callbacks around, `run_epoch` inside.

Owns the epoch-level arguments (epochs, initial_epoch, validation_*, verbose); everything about batches is
the adapters' business, everything about one batch is the step's.
"""
import warnings

import numpy as np

from fitgen.callbacks.callback_list import CallbackList
from fitgen.data import adapter as data_adapter
from fitgen.distribute import context as distribute_context
from fitgen.engine.loop import run_epoch
from fitgen.engine.step import EpochMetrics, make_predict_step, make_test_step

_LEGACY_NAMES = {"samples_per_epoch": "steps_per_epoch", "nb_epoch": "epochs", "nb_val_samples": "validation_steps",
                 "val_samples": "steps", "nb_worker": "workers", "pickle_safe": "use_multiprocessing",
                 "max_q_size": "max_queue_size"}


def legacy_generator_kwargs(kwargs, generator):
    """Keras 1 argument names of the *_generator methods, converted with a warning as Keras 2 did."""
    out = {}
    for name, value in kwargs.items():
        if name not in _LEGACY_NAMES:
            raise TypeError(f"Unrecognized keyword arguments: [{name!r}]")
        new = _LEGACY_NAMES[name]
        if name in ("samples_per_epoch", "nb_val_samples", "val_samples"):
            batch = getattr(generator, "batch_size", None)
            value = int(np.ceil(value / batch)) if batch else value
            warnings.warn(f"The semantics of the Keras 2 argument `{new}` is not the same as the Keras 1 argument "
                          f"`{name}`. `{new}` refers to the number of batches, not samples.", stacklevel=3)
        else:
            warnings.warn(f"Update your call to the Keras 2 API: `{name}` is now `{new}`.", stacklevel=3)
        out[new] = value
    return out


def _check_positive(name, value, allow_none=True):
    if value is None and allow_none:
        return
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"Expected `{name}` to be a positive integer. Received: {name}={value!r}")


def _validation_adapter(model, validation_data, batch_size, validation_steps, stream_kwargs):
    if data_adapter.is_streaming(validation_data):
        from fitgen.data import stream
        return stream.stream_adapter(model, validation_data, steps=validation_steps, shuffle=False,
                                     role="validation", **stream_kwargs)
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
        length = len(validation_data) if isinstance(validation_data, (tuple, list)) else "not a tuple"
        raise ValueError("When passing validation_data, it must contain 2 (x_val, y_val) or 3 (x_val, y_val, "
                         f"val_sample_weights) items, however it contains {length} items.")
    x_val, y_val = validation_data[0], validation_data[1]
    sw_val = validation_data[2] if len(validation_data) == 3 else None
    return data_adapter.array_adapter(model, x_val, y_val, sw_val, batch_size=batch_size, shuffle=False,
                                      steps=validation_steps, class_weight=None)


def _should_validate(epoch, validation_freq):
    if isinstance(validation_freq, int):
        if validation_freq < 1:
            raise ValueError(f"`validation_freq` can not be less than 1. Received: validation_freq={validation_freq}")
        return (epoch + 1) % validation_freq == 0
    return epoch + 1 in validation_freq


def fit(model, x=None, y=None, batch_size=None, epochs=1, verbose=1, callbacks=None, validation_split=0.,
        validation_data=None, shuffle=True, class_weight=None, sample_weight=None, initial_epoch=0,
        steps_per_epoch=None, validation_steps=None, validation_batch_size=None, validation_freq=1,
        max_queue_size=10, workers=1, use_multiprocessing=False, generator_api=False, **stream_extra):
    model._assert_compiled()
    distributed = _distribution(model)  # [distribute hook] None in a single process
    _check_positive("batch_size", batch_size)
    _check_positive("steps_per_epoch", steps_per_epoch)
    _check_positive("max_queue_size", max_queue_size, allow_none=False)
    if not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise ValueError(f"Expected `epochs` to be a non-negative integer. Received: epochs={epochs!r}")
    if not isinstance(initial_epoch, (int, np.integer)) or initial_epoch < 0:
        raise ValueError(f"Expected `initial_epoch` to be a non-negative integer. Received: initial_epoch={initial_epoch!r}")
    if not isinstance(workers, (int, np.integer)) or workers < 0:
        raise ValueError(f"Expected `workers` to be a non-negative integer. Received: workers={workers!r}")
    if validation_freq is not None and not isinstance(validation_freq, int):
        validation_freq = set(validation_freq)
    stream_kwargs = dict(max_queue_size=max_queue_size, workers=workers, use_multiprocessing=use_multiprocessing,
                         **stream_extra)
    if x is None:
        raise ValueError("`fit` needs training data: pass `x` (and `y`), or a generator / Sequence as `x`.")
    if data_adapter.is_streaming(x):
        from fitgen.data import stream
        for name, value in (("y", y), ("sample_weight", sample_weight)):
            if value is not None:
                raise ValueError(f"`{name}` argument is not supported when data is a generator or Sequence "
                                 f"instance: the generator must yield (x, y) or (x, y, sample_weight). "
                                 f"Received: {name} of type {type(value).__name__}")
        if validation_split:
            raise ValueError("`validation_split` is only supported for NumPy arrays, torch tensors and array-likes; "
                             "it cannot split a generator or Sequence. Pass `validation_data` instead.")
        if batch_size is not None:
            raise ValueError("The `batch_size` argument must not be specified when using a generator or Sequence as "
                             "an input: the generator decides the batch size.")
        train = stream.stream_adapter(model, x, steps=steps_per_epoch, shuffle=shuffle, role="training",
                                      class_weight=class_weight, **stream_kwargs)
    else:
        model._prepare_for(x)
        if validation_data is None and validation_split:
            (x, y, sample_weight), (x_val, y_val, sw_val) = data_adapter.split_for_validation(
                model, x, y, sample_weight, validation_split)
            validation_data = (x_val, y_val, sw_val)
        elif validation_split and not 0. <= validation_split < 1.:
            raise ValueError(f"`validation_split` must be in [0, 1). Received: validation_split={validation_split}")
        if y is None:
            raise ValueError("Target data is missing. Your model was compiled with a loss, and therefore expects "
                             "target data `y` to be provided in `fit()`.")
        train = data_adapter.array_adapter(model, x, y, sample_weight, batch_size=batch_size, shuffle=shuffle,
                                           steps=steps_per_epoch, class_weight=class_weight)
    model._prepare_for(None)
    validation = None
    if validation_data is not None and not (isinstance(validation_data, (tuple, list)) and not validation_data):
        validation = _validation_adapter(model, validation_data, validation_batch_size or batch_size,
                                         validation_steps, stream_kwargs)
    if distributed is not None:  # [distribute hook] this rank's share of the data
        from fitgen.distribute import sharding
        train, validation = sharding.shard(distributed, train, True), sharding.shard(distributed, validation, False)
    try:
        return _run_fit(model, train, validation, epochs, initial_epoch, verbose, callbacks, validation_freq,
                        batch_size)
    finally:
        for adapter in (train, validation):
            if adapter is not None and hasattr(adapter, "close"):
                adapter.close()


def _distribution(model):
    """[distribute hook] fitgen.distribute's context, with the model on this rank's device; None when not
    distributed (then one `is_initialized()` check is the whole cost)."""
    context = distribute_context.current()
    if context is not None:
        from fitgen.distribute import ddp
        ddp.prepare_model(context, model)
    return context


def _run_fit(model, train, validation, epochs, initial_epoch, verbose, callbacks, validation_freq, batch_size):
    names = model.metrics_names
    distributed = distribute_context.current()  # [distribute hook]
    callback_list = CallbackList(callbacks, add_history=True, add_progbar=bool(verbose) and _chief(distributed),
                                 model=model,
                                 verbose=verbose, epochs=epochs, steps=train.num_batches(),
                                 batch_size=batch_size, samples=getattr(train, "num_samples", None),
                                 do_validation=validation is not None,
                                 metrics=names + ["val_" + n for n in names if validation is not None],
                                 _in_fit=True)
    model.history = callback_list.history
    model.stop_training = False
    if distributed is None:
        train_step = model._make_train_step()
        metrics = EpochMetrics(model._output_specs, names)
    else:  # [distribute hook] DDP step, stand-in-aware metrics, stop_training agreed by all ranks
        from fitgen.distribute import ddp
        callback_list.append(ddp.stop_callback(distributed, callbacks, model))
        train_step = ddp.make_train_step(distributed, model, train)
        metrics = ddp.epoch_metrics(model, train)
    model._fit_context = FitContext(train, metrics, callback_list)
    callback_list.on_train_begin()
    # BackupAndRestore may ask to resume: {'epoch', 'step' (batches done in it), 'data_seed', 'metrics'}.
    resume = model.__dict__.pop("_resume_from", None)
    if resume is not None:
        initial_epoch = resume["epoch"]
        train.seed = resume["data_seed"]
    epoch_logs = {}
    for epoch in range(initial_epoch, epochs):
        metrics.reset()
        skip = 0
        if resume is not None and epoch == resume["epoch"]:
            skip = resume["step"]
            if resume.get("metrics") is not None and skip:
                metrics.set_state(resume["metrics"])
        callback_list.on_epoch_begin(epoch)
        model.train()
        steps = run_epoch(train.epoch_batches(epoch, skip=skip), train_step, callback_list, "train", metrics,
                          model, first_step=skip) + skip
        if distributed is not None:
            ddp.reduce_metrics(distributed, metrics)  # [distribute hook] global sums on every rank
        if not steps and getattr(train, "exhausted", False):
            _warn_ran_out(train, epochs, initial_epoch)  # ran dry on the epoch boundary: no empty epoch
            break
        epoch_logs = metrics.results()
        stats = train.epoch_stats() if hasattr(train, "epoch_stats") else {}
        if validation is not None and _should_validate(epoch, validation_freq) and steps:
            val_logs = _evaluate_adapter(model, validation, callback_list)
            epoch_logs.update({"val_" + k: v for k, v in val_logs.items()})
        # fitgen's own statistic: shown by the bar and kept in History, but not a Keras log key.
        model._fit_context.data_wait = stats.get("data_wait")
        callback_list.on_epoch_end(epoch, epoch_logs)
        train.on_epoch_end()
        if getattr(train, "exhausted", False):
            _warn_ran_out(train, epochs, initial_epoch)
            break
        if model.stop_training:
            break
    callback_list.on_train_end(epoch_logs)
    return callback_list.history


def _warn_ran_out(train, epochs, initial_epoch):
    warnings.warn(
        "Your input ran out of data; interrupting training. Make sure that your dataset or generator can generate "
        f"at least `steps_per_epoch * epochs` batches (in this case, {train.num_batches() * (epochs - initial_epoch)}"
        f" batches); {train.batches_seen} batches were seen.", stacklevel=5)


class FitContext:
    """What a running fit exposes to callbacks that checkpoint its progress (BackupAndRestore)."""

    def __init__(self, adapter, metrics, callbacks=None):
        self.adapter = adapter
        self.metrics = metrics
        self.callbacks = callbacks
        self.data_wait = None  # this epoch's share of time spent waiting for data (streaming input only)

    @property
    def data_seed(self):
        return self.adapter.seed


def _chief(distributed):
    return distributed is None or distributed.is_chief


def _evaluate_adapter(model, adapter, callback_list):
    distributed = distribute_context.current()  # [distribute hook]
    if distributed is None:
        metrics = EpochMetrics(model._output_specs, model.metrics_names)
    else:
        from fitgen.distribute import ddp
        metrics = ddp.epoch_metrics(model, adapter)
    model.eval()
    callback_list.on_test_begin()
    run_epoch(adapter.epoch_batches(0), make_test_step(model), callback_list, "test", metrics, model)
    if distributed is not None:
        ddp.reduce_metrics(distributed, metrics)
    logs = metrics.results()
    callback_list.on_test_end(logs)
    adapter.on_epoch_end()
    return logs


def _adapter_for_inference(model, x, y, sample_weight, batch_size, steps, stream_kwargs, role):
    _check_positive("batch_size", batch_size)
    if data_adapter.is_streaming(x):
        from fitgen.data import stream
        return stream.stream_adapter(model, x, steps=steps, shuffle=False, role=role, **stream_kwargs)
    if x is None:
        raise ValueError(f"`{role}` needs input data `x`.")
    model._prepare_for(x)
    return data_adapter.array_adapter(model, x, y, sample_weight, batch_size=batch_size, shuffle=False,
                                      steps=steps, class_weight=None, check_targets=y is not None)


def evaluate(model, x=None, y=None, batch_size=None, verbose=1, sample_weight=None, steps=None, callbacks=None,
             max_queue_size=10, workers=1, use_multiprocessing=False, return_dict=False, timeout=None):
    model._assert_compiled()
    distributed = _distribution(model)  # [distribute hook]
    stream_kwargs = dict(max_queue_size=max_queue_size, workers=workers, use_multiprocessing=use_multiprocessing,
                         timeout=timeout)
    adapter = _adapter_for_inference(model, x, y, sample_weight, batch_size, steps, stream_kwargs, "evaluate")
    if distributed is not None:
        from fitgen.distribute import sharding
        adapter = sharding.shard(distributed, adapter, False)
    if y is None and not data_adapter.is_streaming(x):
        raise ValueError("Target data is missing. Your model was compiled with a loss, and therefore expects "
                         "target data `y` to be provided in `evaluate()`.")
    try:
        model._prepare_for(None)
        callback_list = CallbackList(callbacks, add_progbar=verbose == 1 and _chief(distributed), model=model,
                                     verbose=verbose, epochs=1, steps=adapter.num_batches())
        logs = _evaluate_adapter(model, adapter, callback_list)
    finally:
        if hasattr(adapter, "close"):
            adapter.close()
    if return_dict:
        return logs
    values = [logs[name] for name in model.metrics_names]
    return values[0] if len(values) == 1 else values


def predict(model, x, batch_size=None, verbose=0, steps=None, callbacks=None, max_queue_size=10, workers=1,
            use_multiprocessing=False, timeout=None):
    stream_kwargs = dict(max_queue_size=max_queue_size, workers=workers, use_multiprocessing=use_multiprocessing,
                         inputs_only=True, timeout=timeout)
    distributed = _distribution(model)  # [distribute hook]
    adapter = _adapter_for_inference(model, x, None, None, batch_size, steps, stream_kwargs, "predict")
    if distributed is not None:
        from fitgen.distribute import sharding
        adapter = sharding.shard(distributed, adapter, False)
    collected = []
    try:
        callback_list = CallbackList(callbacks, add_progbar=verbose == 1 and _chief(distributed), model=model,
                                     verbose=verbose, epochs=1, steps=adapter.num_batches())
        model.eval()
        callback_list.on_predict_begin()
        run_epoch(adapter.epoch_batches(0), make_predict_step(model), callback_list, "predict",
                  outputs_sink=lambda outs: collected.append([o.detach().cpu().numpy() for o in outs]))
        callback_list.on_predict_end()
        if distributed is not None and getattr(adapter, "gathers", False):
            collected = adapter.gather(collected)  # [distribute hook] all ranks' outputs, in order
    finally:
        if hasattr(adapter, "close"):
            adapter.close()
    if not collected:
        raise ValueError("Expected input data to be non-empty: `predict` received no batches.")
    outputs = [np.concatenate([batch[i] for batch in collected], axis=0) for i in range(len(collected[0]))]
    return outputs[0] if len(outputs) == 1 else outputs
