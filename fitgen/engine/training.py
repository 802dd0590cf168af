"""compile and the training front doors: fit, evaluate, predict, the *_on_batch methods and the *_generator
aliases, which hand their data to the trainer (trainer.py); and the customisation points of tf.keras 2.2+:
`train_step`, `test_step`, `predict_step`, with `compiled_loss`, `compiled_metrics` and `metrics`.
"""
import warnings

import numpy as np

from fitgen.backend import common as backend  # configuration only: the engine never needs the ops
from fitgen import optimizers as optimizers_module
from fitgen.data import adapter as data_adapter
from fitgen.data import structure
from fitgen.data.batch import BatchFinisher, as_tensor
from fitgen.engine import compile_utils, trainer
from fitgen.engine.base_layer import GradientFlags
from fitgen.engine.call_context import metrics_sink
from fitgen.engine.step import (CustomStepRunner, EpochMetrics, PredictRunner, StepRunner, batch_size_of,
                                make_predict_step, make_test_step, make_train_step)
from fitgen.optimizers.loss_scale import LossScaleOptimizer

_NOT_COMPILED = "You must compile your model before training/testing. Use `model.compile(optimizer, loss)`."


class TrainingAPI:
    """Mixin of `Model` holding Keras 2's training API."""

    def _init_training_state(self):
        self.optimizer = None
        self.loss = None
        self.compiled = False
        self.stop_training = False
        self.history = None
        self._output_specs = None
        self._epoch_metrics = None
        self._train_step = None
        self.jit_compile = False

    # ----------------------------------------------------------------------------------------- compile
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None, sample_weight_mode=None,
                weighted_metrics=None, target_tensors=None, run_eagerly=None, steps_per_execution=None,
                jit_compile=None, **kwargs):
        """Configures the model for training.

        Args:
            optimizer: name ('sgd', 'adam', ...) or a `fitgen.optimizers.Optimizer`.
            loss: name, function `(y_true, y_pred)`, Loss instance; a list or dict (by output name) for several
                outputs.
            metrics: list of names/functions/Metric objects, a dict by output name, or a list per output.
                `'acc'`/`'accuracy'` picks binary, categorical or sparse accuracy from the loss and output shape;
                the log key is spelled as written.
            loss_weights: list or dict of scalar weights of each output's loss in the total.
            sample_weight_mode: None or 'temporal' (per output as list/dict) for (samples, timesteps) weights.
            weighted_metrics: metrics that receive `sample_weight` / `class_weight`.
            jit_compile: True compiles the whole built-in train step (forward, loss, gradients, the optimizer's
                update) into one graph with inductor, torch.compile's compiler (Keras 3's switch). It pays once the
                training is long enough to amortise seconds of compiling per model (minutes for recurrent
                layers); the numbers are the eager step's to float rounding. Where the step cannot be compiled it
                runs eagerly after one warning. None, False or 'auto': the eager step.
            run_eagerly, steps_per_execution: accepted for tf.keras compatibility (fitgen's steps are eager).

        Raises:
            ValueError: unknown optimizer, loss or metric names (listing the accepted ones), or loss/metric
                dict keys that name no output.
        """
        unknown = set(kwargs) - {"distribute", "options", "pss_evaluation_shards"}
        if unknown:
            raise TypeError(f"Invalid keyword argument(s) in `compile()`: {sorted(unknown)}.")
        if target_tensors is not None:
            raise ValueError("`target_tensors` is not supported by fitgen: pass targets to `fit` instead.")
        if jit_compile not in (None, True, False, "auto"):
            raise ValueError("`jit_compile` must be True, False, None or 'auto'. "
                             f"Received: jit_compile={jit_compile!r}")
        self.optimizer = optimizers_module.get(optimizer)
        if self._dtype_policy.name == "mixed_float16" and not isinstance(self.optimizer, LossScaleOptimizer):
            self.optimizer = LossScaleOptimizer(self.optimizer)  # as tf-keras: float16 gradients need loss scaling
        self.jit_compile = jit_compile is True
        self._jit_warned = False
        self.loss = loss
        self._compile_args = dict(loss=loss, metrics=metrics, loss_weights=loss_weights,
                                  sample_weight_mode=sample_weight_mode, weighted_metrics=weighted_metrics)
        self.to(self._device())
        if self._graph is not None:
            self._finish_compile()
        else:
            self._output_specs = None  # a model without a graph yet finishes compile on its first data
        self.compiled = True
        self._train_step = None
        self._optimizer_built = False
        # Keras 2 collects the trainable weights at compile time: a later `trainable` change takes effect at the
        # next compile (with a warning until then); see base_layer.GradientFlags.
        self._collected_trainable = self.trainable_weights if self.weights else None
        self._collected_version = GradientFlags.trainable_version

    def _finish_compile(self):
        args = self._compile_args
        self._output_specs = compile_utils.build_outputs(self, args["loss"], args["loss_weights"],
                                                         args["sample_weight_mode"], args["metrics"],
                                                         args["weighted_metrics"])
        for spec in self._output_specs:
            for metric in spec.metrics + spec.weighted_metrics:
                if hasattr(metric, "to"):
                    metric.to(self._device())
        self._epoch_metrics = EpochMetrics(self._output_specs, compile_utils.metrics_names(self._output_specs))

    def _warn_jit_fallback(self, message):
        # jit_compile's fallback is worth one warning per compile, not one per step or per fit.
        if not self._jit_warned:
            self._jit_warned = True
            warnings.warn(message, stacklevel=5)

    @property
    def metrics_names(self):
        """['loss', '<output>_loss'..., metric names..., added metrics...] in the order evaluate and
        train_on_batch return values."""
        if not self.compiled or self._output_specs is None:
            return []
        names = compile_utils.metrics_names(self._output_specs)
        names += [name for _, name, _ in self._graph_metrics if name not in names]
        return names + [name for name in self._epoch_metrics.added if name not in names]

    @property
    def compiled_loss(self):
        """The losses `compile` configured, callable as `compiled_loss(y_true, y_pred, sample_weight=None,
        regularization_losses=None)` inside a custom `train_step` (tf.keras's)."""
        return compile_utils.LossesContainer(self) if self._output_specs is not None else None

    @property
    def compiled_metrics(self):
        """The metrics `compile` configured: `compiled_metrics.update_state(y_true, y_pred, sample_weight=None)`."""
        return compile_utils.MetricsContainer(self) if self._output_specs is not None else None

    @property
    def metrics(self):
        """The model's metric objects: the loss trackers, the compiled metrics and those added with `add_metric`;
        each epoch of fit (and each evaluate) starts by resetting them."""
        if self._output_specs is None:
            return []
        return (self.compiled_loss.metrics + self.compiled_metrics.metrics
                + list(self._epoch_metrics.added.values()))

    def reset_metrics(self):
        if self._epoch_metrics is not None:
            self._epoch_metrics.reset()
        for metric in self.metrics:
            metric.reset_state()

    def _overrides(self, method):
        """True when the model's class defines its own `train_step` / `test_step` / `predict_step`."""
        return getattr(type(self), method) is not getattr(TrainingAPI, method)

    def _device(self):
        for tensor in self.parameters():
            return tensor.device
        return backend.get_device()

    def _assert_compiled(self):
        if not self.compiled or self.optimizer is None:
            raise RuntimeError(_NOT_COMPILED)

    def built_for_data(self):
        """True once the model has a graph (or, for subclassed models, weights) to train."""
        return self._graph is not None or not hasattr(self, "_ensure_built")

    def _prepare_for(self, sample_x):
        """Builds a Sequential/subclassed model from its first data, then finishes compile."""
        if self._graph is None and hasattr(self, "_ensure_built"):
            self._ensure_built(sample_x)
        if self.compiled and self._output_specs is None and self.built_for_data():
            self._finish_compile()

    def _collected_trainable_weights(self):
        """The trainable weights as they were at compile (or at the first step of a model built by it)."""
        if getattr(self, "_collected_trainable", None) is None:
            self._collected_trainable = self.trainable_weights
            self._collected_version = GradientFlags.trainable_version
        return self._collected_trainable

    def _check_trainable_weights_consistency(self):
        if getattr(self, "_collected_trainable", None) is None or \
                self._collected_version == GradientFlags.trainable_version:
            return
        self._collected_version = GradientFlags.trainable_version  # checked for this state of the flags

        def count(weights):
            return sum(int(np.prod(w.shape)) for w in weights)
        if count(self.trainable_weights) != count(self._collected_trainable):
            warnings.warn("Discrepancy between trainable weights and collected trainable weights, did you set "
                          "`model.trainable` without calling `model.compile` after ?", stacklevel=3)

    def _make_train_step(self):
        self._check_trainable_weights_consistency()
        if self._train_step is None:
            self._train_step = make_train_step(self, jit_compile=self.jit_compile)
        return self._train_step

    # --------------------------------------------------------------------------------------------- fit
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose=1, callbacks=None, validation_split=0.,
            validation_data=None, shuffle=True, class_weight=None, sample_weight=None, initial_epoch=0,
            steps_per_epoch=None, validation_steps=None, validation_batch_size=None, validation_freq=1,
            max_queue_size=10, workers=1, use_multiprocessing=False, timeout=None, **kwargs):
        """Trains the model for a fixed number of epochs (iterations on a dataset).

        Args:
            x: input data: a NumPy array or torch tensor (or memmap, h5py Dataset, HDF5Matrix), a list of them
                (one per input), a dict keyed by input name; or a generator, `Sequence`, torch Dataset or
                DataLoader yielding `(x, y)` / `(x, y, sample_weight)` batches.
            y: target data, like `x` (by output name for dicts). Not given when `x` yields batches.
            batch_size: samples per gradient update (default 32).
            epochs: index of the final epoch: training runs from `initial_epoch` to `epochs`.
            verbose: 0 silent, 1 progress bar, 2 one line per epoch.
            callbacks: list of `fitgen.callbacks.Callback`.
            validation_split: fraction of the data (the LAST samples, before shuffling) held out for validation.
            validation_data: `(x_val, y_val)` or `(x_val, y_val, val_sample_weight)`, or a generator/Sequence;
                overrides validation_split.
            shuffle: True (reshuffle each epoch), False, or 'batch' (shuffle batch-sized chunks; for HDF5 data).
            class_weight: {class index: weight} multiplying the loss of each sample of that class.
            sample_weight: per-sample weights (samples,), or (samples, timesteps) with
                sample_weight_mode='temporal'.
            initial_epoch: epoch at which to start (to resume a previous run).
            steps_per_epoch: batches per epoch (required for plain generators).
            validation_steps: validation batches per epoch for generator validation data.
            validation_freq: validate every N epochs (int) or at the listed epochs (1-based container).
            max_queue_size, workers, use_multiprocessing: the streaming engine's settings for generators,
                Sequences and out-of-core arrays (memmaps, h5py), which it reads ahead of the step; workers=0
                reads in the main thread.
            timeout: seconds one batch of a generator or Sequence may take before TimeoutError (fitgen;
                None waits as long as it takes, while still detecting dead worker processes).

        Returns:
            A `History` object: `history.history` maps 'loss', metrics and 'val_' twins to per-epoch lists.

        Raises:
            RuntimeError: the model was never compiled.
            ValueError: data or arguments with bad values or shapes (the argument, input or batch is named).
            TypeError: data or arguments of the wrong type (strings or objects for numbers, ...), named.
        """
        if "nb_epoch" in kwargs:
            import warnings
            warnings.warn("The `nb_epoch` argument in `fit` has been renamed `epochs`.", stacklevel=2)
            epochs = kwargs.pop("nb_epoch")
        if kwargs:
            raise TypeError(f"Unrecognized keyword arguments: {sorted(kwargs)}")
        return trainer.fit(self, x=x, y=y, batch_size=batch_size, epochs=epochs, verbose=verbose,
                            callbacks=callbacks, validation_split=validation_split,
                            validation_data=validation_data, shuffle=shuffle, class_weight=class_weight,
                            sample_weight=sample_weight, initial_epoch=initial_epoch,
                            steps_per_epoch=steps_per_epoch, validation_steps=validation_steps,
                            validation_batch_size=validation_batch_size, validation_freq=validation_freq,
                            max_queue_size=max_queue_size, workers=workers,
                            use_multiprocessing=use_multiprocessing, timeout=timeout)

    def evaluate(self, x=None, y=None, batch_size=None, verbose=1, sample_weight=None, steps=None, callbacks=None,
                 max_queue_size=10, workers=1, use_multiprocessing=False, return_dict=False, timeout=None):
        """Returns the loss (a scalar) or [loss, metrics...] in `metrics_names` order, over all of `x`.

        Each value is the sample-count weighted mean over batches (metrics: running means over the data).
        """
        return trainer.evaluate(self, x, y, batch_size=batch_size, verbose=verbose, sample_weight=sample_weight,
                                 steps=steps, callbacks=callbacks, max_queue_size=max_queue_size,
                                 workers=workers, use_multiprocessing=use_multiprocessing,
                                 return_dict=return_dict, timeout=timeout)

    def predict(self, x, batch_size=None, verbose=0, steps=None, callbacks=None, max_queue_size=10, workers=1,
                use_multiprocessing=False, timeout=None):
        """Generates output predictions: a NumPy array, or a list of arrays for several outputs."""
        return trainer.predict(self, x, batch_size=batch_size, verbose=verbose, steps=steps,
                                callbacks=callbacks, max_queue_size=max_queue_size, workers=workers,
                                use_multiprocessing=use_multiprocessing, timeout=timeout)

    # ------------------------------------------------------------------------------------ on_batch
    def _one_batch(self, x, y, sample_weight, class_weight, check_targets=True, method="train_on_batch"):
        if x is None:
            raise ValueError(f"`{method}` needs input data: `x` is None. Pass one array per model input.")
        self._prepare_for(data_adapter.build_sample(self, x))
        step = {"train_on_batch": "train_step", "test_on_batch": "test_step"}.get(method)
        if step:
            data_adapter.require_targets(self, y, step, method)
        adapter = data_adapter.array_adapter(self, x, y, sample_weight, batch_size=None, shuffle=False, steps=None,
                                             class_weight=class_weight, check_targets=check_targets, workers=0)
        adapter.batch_size = adapter.num_samples
        return next(iter(adapter.epoch_batches()))

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, reset_metrics=True,
                       return_dict=False):
        """One gradient update on exactly this batch; returns its loss (and metrics) before the update.

        With `reset_metrics=False` the metrics accumulate over successive calls (until the next reset).
        """
        self._assert_compiled()
        batch = self._one_batch(x, y, sample_weight, class_weight)
        self.train()
        runner = (CustomStepRunner(self, self.train_step, "train") if self._overrides("train_step")
                  else StepRunner(self._make_train_step(), self._epoch_metrics))
        return self._run_one_batch(runner, batch, reset_metrics, return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, reset_metrics=True, return_dict=False):
        """Loss and metrics on one batch, in inference mode, with no update."""
        self._assert_compiled()
        batch = self._one_batch(x, y, sample_weight, None, method="test_on_batch")
        self.eval()
        runner = (CustomStepRunner(self, self.test_step, "test") if self._overrides("test_step")
                  else StepRunner(make_test_step(self), self._epoch_metrics))
        return self._run_one_batch(runner, batch, reset_metrics, return_dict)

    def _run_one_batch(self, runner, batch, reset_metrics, return_dict):
        if reset_metrics:
            self.reset_metrics()
        with metrics_sink(self._epoch_metrics):
            runner.run(batch, batch_size_of(batch[0]))
        return _format_results(runner.results(), self.metrics_names, return_dict)

    def predict_on_batch(self, x):
        """Predictions for one batch: an array, or a list of arrays for several outputs."""
        batch = self._one_batch(x, None, None, None, check_targets=False, method="predict_on_batch")
        self.eval()
        runner = (CustomStepRunner(self, self.predict_step, "predict") if self._overrides("predict_step")
                  else PredictRunner(make_predict_step(self)))
        arrays = [o.detach().cpu().numpy() for o in runner.run(batch, batch_size_of(batch[0]))]
        return arrays[0] if len(arrays) == 1 else arrays

    # ------------------------------------------------------------------------ customisation points
    def train_step(self, data):
        """One training batch; override it to customise what `fit` does (tf.keras 2.2+'s customisation point).

        Args:
            data: `(x,)`, `(x, y)` or `(x, y, sample_weight)`: tensors on the model's device, each a tensor for
                one input/output or a list for several.

        Returns:
            A dict of log values (metric name -> result), e.g. `{m.name: m.result() for m in self.metrics}`.

        An override computes the loss itself (`self.compiled_loss(y, y_pred, regularization_losses=self.losses)`
        or any torch code), updates the weights (`self.optimizer.minimize(loss, self.trainable_weights)`, or
        `loss.backward()` then `self.optimizer.apply_gradients()` once the optimizer is built, or
        `apply_gradients(zip(grads, variables))`), updates `self.compiled_metrics` and returns the logs. fit,
        fit_generator and train_on_batch call it for every batch; under torchrun the optimizer steps average
        the gradients over the ranks.
        """
        batch = self._batch_from_data(data)
        total, per_output, outputs = self._make_train_step()(*batch)
        self._epoch_metrics.update(batch_size_of(batch[0]), total, per_output, batch[1], outputs, batch[2])
        return dict(self._epoch_metrics.result_tensors())

    def test_step(self, data):
        """One evaluation batch (override to customise `evaluate` and validation); returns a dict of logs."""
        batch = self._batch_from_data(data)
        total, per_output, outputs = make_test_step(self)(*batch)
        self._epoch_metrics.update(batch_size_of(batch[0]), total, per_output, batch[1], outputs, batch[2])
        return dict(self._epoch_metrics.result_tensors())

    def predict_step(self, data):
        """One prediction batch (override to customise `predict`); returns the output tensor(s)."""
        x = data[0] if isinstance(data, tuple) and len(data) in (1, 2, 3) else data
        outputs = make_predict_step(self)(self._batch_from_data((x,))[0])
        return outputs[0] if len(outputs) == 1 else outputs

    def _batch_from_data(self, data):
        """tf-keras's `data` -> (x_list, y_list, sample_weight_list) of tensors in the model's dtypes."""
        x, y, sample_weight = structure.unpack_batch(data if isinstance(data, tuple) else (data,))
        self._prepare_for(x)
        groups = (structure.align(x, self.input_names, "x"),
                  structure.align(y, self.output_names, "y", allow_missing=True),
                  data_adapter.sample_weight_list(self, sample_weight))
        return BatchFinisher(self).finish(*([None if a is None else as_tensor(a) for a in group] for group in groups))

    # ---------------------------------------------------------------------------------- generators
    def fit_generator(self, generator, steps_per_epoch=None, epochs=1, verbose=1, callbacks=None,
                      validation_data=None, validation_steps=None, validation_freq=1, class_weight=None,
                      max_queue_size=10, workers=1, use_multiprocessing=False, shuffle=True, initial_epoch=0,
                      timeout=None, **kwargs):
        """Trains on batches yielded by a Python generator or a `Sequence` (Keras 2's fit_generator).

        The generator runs "in parallel with the model": `workers` producers (threads, or processes with
        `use_multiprocessing=True`) fill a queue of at most `max_queue_size` batches; `workers=0` runs it in
        the main thread. A plain generator is never run twice (no duplicated data).
        """
        generator_kwargs = trainer.legacy_generator_kwargs(kwargs, generator)
        steps_per_epoch = generator_kwargs.pop("steps_per_epoch", steps_per_epoch)
        epochs = generator_kwargs.pop("epochs", epochs)
        validation_steps = generator_kwargs.pop("validation_steps", validation_steps)
        workers = generator_kwargs.pop("workers", workers)
        use_multiprocessing = generator_kwargs.pop("use_multiprocessing", use_multiprocessing)
        max_queue_size = generator_kwargs.pop("max_queue_size", max_queue_size)
        return trainer.fit(self, x=generator, steps_per_epoch=steps_per_epoch, epochs=epochs, verbose=verbose,
                            callbacks=callbacks, validation_data=validation_data,
                            validation_steps=validation_steps, validation_freq=validation_freq,
                            class_weight=class_weight, max_queue_size=max_queue_size, workers=workers,
                            use_multiprocessing=use_multiprocessing, shuffle=shuffle, initial_epoch=initial_epoch,
                            timeout=timeout, **generator_kwargs)

    def evaluate_generator(self, generator, steps=None, callbacks=None, max_queue_size=10, workers=1,
                           use_multiprocessing=False, verbose=0, timeout=None, **kwargs):
        """Evaluates on batches from a generator or Sequence: the sample-weighted mean over all batches."""
        legacy = trainer.legacy_generator_kwargs(kwargs, generator)
        steps = legacy.pop("steps", steps)
        return self.evaluate(generator, steps=steps, callbacks=callbacks, max_queue_size=max_queue_size,
                             workers=legacy.pop("workers", workers),
                             use_multiprocessing=legacy.pop("use_multiprocessing", use_multiprocessing),
                             verbose=verbose, timeout=timeout)

    def predict_generator(self, generator, steps=None, callbacks=None, max_queue_size=10, workers=1,
                          use_multiprocessing=False, verbose=0, timeout=None, **kwargs):
        """Predictions for the batches of a generator or Sequence, concatenated in order."""
        legacy = trainer.legacy_generator_kwargs(kwargs, generator)
        steps = legacy.pop("steps", steps)
        return self.predict(generator, steps=steps, callbacks=callbacks, max_queue_size=max_queue_size,
                            workers=legacy.pop("workers", workers),
                            use_multiprocessing=legacy.pop("use_multiprocessing", use_multiprocessing),
                            verbose=verbose, timeout=timeout)


def _format_results(logs, names, return_dict):
    if return_dict:
        return logs
    values = [logs[name] for name in names if name in logs]
    return values[0] if len(values) == 1 else values


def __getattr__(name):
    # keras.engine.training.Model: Keras 2 defined Model in training.py. fitgen's Model lives in model.py,
    # which imports this module, so the name is looked up when asked for.
    if name == "Model":
        from fitgen.engine.model import Model
        return Model
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
