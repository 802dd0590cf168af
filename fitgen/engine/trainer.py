"""The bodies of fit, evaluate and predict: epochs, validation and callbacks around `run_epoch`.

Owns the epoch-level arguments (epochs, initial_epoch, validation_*, verbose). Everything about the data is the
adapters' business (fitgen/data/adapter.py decides the kind once), everything about one batch is the step
runner's (step.py), and everything about distribution is the strategy's (fitgen/distribute/strategy.py),
chosen once per call; callbacks that need more than Keras's logs read the `TrainerState`.
"""
import numbers
import warnings

import numpy as np

from fitgen.callbacks.callback_list import CallbackList, callbacks_list
from fitgen.data import adapter as data_adapter
from fitgen.distribute.strategy import strategy_for
from fitgen.engine.call_context import metrics_sink
from fitgen.engine.epoch import run_epoch

_LEGACY_NAMES = {"samples_per_epoch": "steps_per_epoch", "nb_epoch": "epochs", "nb_val_samples": "validation_steps",
                 "val_samples": "steps", "nb_worker": "workers", "pickle_safe": "use_multiprocessing",
                 "max_q_size": "max_queue_size"}


class TrainerState:
    """Where a fit / evaluate / predict call stands: what callbacks that need more than Keras's logs read.

    Callbacks receive it through `Callback.set_trainer_state` (the callback list passes it): History records
    `data_wait`, the progress bar shows it and hides validation inside fit, BackupAndRestore saves the data seed
    and the epoch's running metrics, finds the other callbacks, and asks to resume.

    Attributes:
        mode: 'fit', 'evaluate' or 'predict'.
        in_fit: True during fit (validation batches are part of it).
        epoch: the current epoch (fit).
        data_wait: the last epoch's share of time spent waiting for data from a pipeline, or None.
        callbacks: the callbacks of this call, in order.
        resume: None, or where to resume ({'epoch', 'step', 'data_seed', 'metrics'}) once a callback asked.
    """

    def __init__(self, mode, adapter=None, runner=None):
        self.mode = mode
        self.in_fit = mode == "fit"
        self.adapter = adapter
        self.runner = runner
        self.epoch = 0
        self.data_wait = None
        self.callbacks = []
        self.resume = None

    @property
    def data_seed(self):
        return self.adapter.seed

    def metrics_state(self):
        """The epoch's running metric state so far (to resume mid-epoch)."""
        return self.runner.get_state()

    def request_resume(self, epoch, step, data_seed, metrics):
        """Asks fit to start at `epoch`, skipping its first `step` batches, with this data order and metrics."""
        self.resume = {"epoch": epoch, "step": step, "data_seed": data_seed, "metrics": metrics}


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


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _check_number(name, value, expected):
    """TypeError for a value that is not a number at all (a string, None, an object)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"Expected `{name}` to be {expected}. Received: {name}={value!r} of type "
                        f"{type(value).__name__}")


def _check_positive(name, value, allow_none=True):
    if value is None and allow_none:
        return
    _check_number(name, value, "a positive integer")
    if not _is_int(value) or value < 1:
        raise ValueError(f"Expected `{name}` to be a positive integer. Received: {name}={value!r}")


def _check_non_negative(name, value):
    _check_number(name, value, "a non-negative integer")
    if not _is_int(value) or value < 0:
        raise ValueError(f"Expected `{name}` to be a non-negative integer. Received: {name}={value!r}")


def _check_validation_freq(validation_freq):
    """An int >= 1 (validate every N epochs) or a container of 1-based epoch numbers, as tf-keras takes it."""
    expected = "an int (validate every N epochs) or a list/tuple/set/range of epoch numbers"
    if _is_int(validation_freq):
        if validation_freq < 1:
            raise ValueError(f"`validation_freq` can not be less than 1. Received: validation_freq={validation_freq}")
        return int(validation_freq)
    if isinstance(validation_freq, numbers.Real) and not isinstance(validation_freq, (bool, np.bool_)):
        raise ValueError(f"Expected `validation_freq` to be {expected}. Received: validation_freq={validation_freq!r}")
    if isinstance(validation_freq, (str, bytes, dict)) or not isinstance(validation_freq, (list, tuple, set,
                                                                                           frozenset, range)):
        raise TypeError(f"Expected `validation_freq` to be {expected}. Received: validation_freq={validation_freq!r} "
                        f"of type {type(validation_freq).__name__}")
    epochs = set(validation_freq)
    bad = [e for e in epochs if not _is_int(e) or e < 1]
    if bad:
        raise ValueError(f"`validation_freq` lists epochs to validate at, as integers counted from 1. Received: "
                         f"validation_freq={validation_freq!r} (not epochs: {bad[:3]})")
    return epochs


def _check_verbose(verbose):
    if verbose == "auto":
        return 1
    if not isinstance(verbose, (int, np.integer)):  # bools are ints
        raise TypeError(f"Expected `verbose` to be 0 (silent), 1 (progress bar), 2 (one line per epoch) or 'auto'. "
                        f"Received: verbose={verbose!r} of type {type(verbose).__name__}")
    return int(verbose)


def _check_loop_arguments(batch_size, steps, max_queue_size, workers, timeout, verbose):
    """The arguments evaluate and predict share; returns `verbose` as an int."""
    _check_positive("batch_size", batch_size)
    _check_positive("steps", steps)
    _check_positive("max_queue_size", max_queue_size, allow_none=False)
    _check_non_negative("workers", workers)
    _check_timeout(timeout)
    return _check_verbose(verbose)


def _check_fit_arguments(validation_split, shuffle, timeout):
    _check_number("validation_split", validation_split, "a float in [0, 1)")
    if not 0. <= validation_split < 1.:
        raise ValueError(f"`validation_split` must be in [0, 1). Received: validation_split={validation_split}")
    if not (shuffle == "batch" or isinstance(shuffle, (bool, np.bool_))):
        raise ValueError(f"`shuffle` must be True, False or 'batch'. Received: shuffle={shuffle!r}")
    _check_timeout(timeout)


def _check_timeout(timeout):
    if timeout is not None:
        _check_number("timeout", timeout, "None or a number of seconds")
        if not timeout > 0:
            raise ValueError(f"Expected `timeout` to be None or a positive number of seconds. Received: "
                             f"timeout={timeout!r}")


def _should_validate(epoch, validation_freq):
    if isinstance(validation_freq, int):
        return (epoch + 1) % validation_freq == 0
    return epoch + 1 in validation_freq


def fit(model, x=None, y=None, batch_size=None, epochs=1, verbose=1, callbacks=None, validation_split=0.,
        validation_data=None, shuffle=True, class_weight=None, sample_weight=None, initial_epoch=0,
        steps_per_epoch=None, validation_steps=None, validation_batch_size=None, validation_freq=1,
        max_queue_size=10, workers=1, use_multiprocessing=False, timeout=None, **unused):
    model._assert_compiled()
    strategy = strategy_for(model)
    _check_positive("batch_size", batch_size)
    _check_positive("steps_per_epoch", steps_per_epoch)
    _check_positive("max_queue_size", max_queue_size, allow_none=False)
    _check_non_negative("epochs", epochs)
    _check_non_negative("initial_epoch", initial_epoch)
    _check_non_negative("workers", workers)
    _check_positive("validation_steps", validation_steps)
    _check_positive("validation_batch_size", validation_batch_size)
    validation_freq = _check_validation_freq(validation_freq)
    verbose = _check_verbose(verbose)
    _check_fit_arguments(validation_split, shuffle, timeout)
    callbacks = callbacks_list(callbacks)
    read = dict(max_queue_size=max_queue_size, workers=workers, use_multiprocessing=use_multiprocessing,
                timeout=timeout)
    if x is None:
        raise ValueError("`fit` needs training data: pass `x` (and `y`), or a generator / Sequence as `x`.")
    if validation_split:
        x, y, sample_weight, validation_data = data_adapter.split_for_validation(
            model, x, y, sample_weight, validation_split, validation_data)
    train = data_adapter.get_adapter(model, x, y, sample_weight, role="training", batch_size=batch_size,
                                     shuffle=shuffle, steps=steps_per_epoch, class_weight=class_weight, **read)
    validation = None
    try:
        if validation_data is not None and not (isinstance(validation_data, (tuple, list)) and not validation_data):
            validation = data_adapter.validation_adapter(model, validation_data, validation_batch_size or batch_size,
                                                         validation_steps, **read)
        train, validation = strategy.shard(train, True), strategy.shard(validation, False)
        previous_history, steps_before = model.history, _optimizer_steps(model)
        try:
            return _run_epochs(model, strategy, train, validation, epochs, initial_epoch, verbose, callbacks,
                               validation_freq, batch_size)
        except (ValueError, TypeError):
            if _optimizer_steps(model) == steps_before:  # data rejected before the first step: nothing changes
                model.history = previous_history
            raise
    finally:
        for adapter in (train, validation):
            if adapter is not None:
                adapter.close()


def _optimizer_steps(model):
    iterations = getattr(model.optimizer, "iterations", None)
    return None if iterations is None else int(iterations)


def _run_epochs(model, strategy, train, validation, epochs, initial_epoch, verbose, callbacks, validation_freq,
                batch_size):
    names = model.metrics_names
    runner = strategy.train_runner(model, train)
    state = TrainerState("fit", train, runner)
    callback_list = CallbackList(callbacks, add_history=True, add_progbar=bool(verbose) and strategy.is_chief,
                                 model=model, trainer_state=state,
                                 verbose=verbose, epochs=epochs, steps=train.num_batches(),
                                 batch_size=batch_size, samples=train.num_samples,
                                 do_validation=validation is not None,
                                 metrics=names + ["val_" + n for n in names if validation is not None])
    for extra in strategy.callbacks(callbacks, model):
        callback_list.append(extra)
    state.callbacks = list(callback_list.callbacks)
    model.history = callback_list.history
    model.stop_training = False
    callback_list.on_train_begin()
    resume = state.resume
    if resume is not None:
        initial_epoch = resume["epoch"]
        train.seed = resume["data_seed"]
    epoch_logs = {}
    for epoch in range(initial_epoch, epochs):
        state.epoch = epoch
        runner.reset()
        skip = 0
        if resume is not None and epoch == resume["epoch"]:
            skip = resume["step"]
            if resume.get("metrics") is not None and skip:
                runner.set_state(resume["metrics"])
        callback_list.on_epoch_begin(epoch)
        model.train()
        with strategy.running(runner, train), metrics_sink(model._epoch_metrics):
            steps = run_epoch(train.epoch_batches(epoch, skip=skip), runner, callback_list, "train", model,
                              first_step=skip) + skip
        strategy.reduce(runner)
        if not steps and train.exhausted:
            _warn_ran_out(train, epochs, initial_epoch)  # ran dry on the epoch boundary: no empty epoch
            break
        epoch_logs = runner.results()
        state.data_wait = train.epoch_stats().get("data_wait")
        if validation is not None and _should_validate(epoch, validation_freq) and steps:
            val_logs = _evaluate(model, strategy, validation, callback_list)
            epoch_logs.update({"val_" + k: v for k, v in val_logs.items()})
        callback_list.on_epoch_end(epoch, epoch_logs)
        train.on_epoch_end()
        if train.exhausted:
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


def _evaluate(model, strategy, adapter, callback_list):
    runner = strategy.test_runner(model, adapter)
    runner.reset()
    model.eval()
    callback_list.on_test_begin()
    with metrics_sink(model._epoch_metrics):
        run_epoch(adapter.epoch_batches(0), runner, callback_list, "test", model)
    strategy.reduce(runner)
    logs = runner.results()
    callback_list.on_test_end(logs)
    adapter.on_epoch_end()
    return logs


def evaluate(model, x=None, y=None, batch_size=None, verbose=1, sample_weight=None, steps=None, callbacks=None,
             max_queue_size=10, workers=1, use_multiprocessing=False, return_dict=False, timeout=None):
    model._assert_compiled()
    strategy = strategy_for(model)
    verbose = _check_loop_arguments(batch_size, steps, max_queue_size, workers, timeout, verbose)
    callbacks = callbacks_list(callbacks)
    adapter = data_adapter.get_adapter(model, x, y, sample_weight, role="evaluate", batch_size=batch_size,
                                       shuffle=False, steps=steps, max_queue_size=max_queue_size, workers=workers,
                                       use_multiprocessing=use_multiprocessing, timeout=timeout)
    try:
        adapter = strategy.shard(adapter, False)
        state = TrainerState("evaluate", adapter)
        callback_list = CallbackList(callbacks, add_progbar=verbose == 1 and strategy.is_chief, model=model,
                                     trainer_state=state, verbose=verbose, epochs=1, steps=adapter.num_batches())
        state.callbacks = list(callback_list.callbacks)
        logs = _evaluate(model, strategy, adapter, callback_list)
    finally:
        adapter.close()
    if return_dict:
        return logs
    values = [logs[name] for name in model.metrics_names if name in logs]
    return values[0] if len(values) == 1 else values


def predict(model, x, batch_size=None, verbose=0, steps=None, callbacks=None, max_queue_size=10, workers=1,
            use_multiprocessing=False, timeout=None):
    strategy = strategy_for(model)
    verbose = _check_loop_arguments(batch_size, steps, max_queue_size, workers, timeout, verbose)
    callbacks = callbacks_list(callbacks)
    adapter = data_adapter.get_adapter(model, x, role="predict", batch_size=batch_size, shuffle=False, steps=steps,
                                       max_queue_size=max_queue_size, workers=workers,
                                       use_multiprocessing=use_multiprocessing, timeout=timeout, check_targets=False)
    collected = []
    try:
        adapter = strategy.shard(adapter, False)
        runner = strategy.predict_runner(model, adapter)
        state = TrainerState("predict", adapter, runner)
        callback_list = CallbackList(callbacks, add_progbar=verbose == 1 and strategy.is_chief, model=model,
                                     trainer_state=state, verbose=verbose, epochs=1, steps=adapter.num_batches())
        state.callbacks = list(callback_list.callbacks)
        model.eval()
        callback_list.on_predict_begin()
        run_epoch(adapter.epoch_batches(0), runner, callback_list, "predict",
                  outputs_sink=lambda outs: collected.append([o.detach().cpu().numpy() for o in outs]))
        callback_list.on_predict_end()
        collected = strategy.gather(adapter, collected)
    finally:
        adapter.close()
    if not collected:
        raise ValueError("Expected input data to be non-empty: `predict` received no batches.")
    outputs = [np.concatenate([batch[i] for batch in collected], axis=0) for i in range(len(collected[0]))]
    return outputs[0] if len(outputs) == 1 else outputs
