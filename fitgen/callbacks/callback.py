"""`Callback`: the Keras 2 base class of everything that hooks into fit/evaluate/predict."""


class Callback:
    """Abstract base class used to build new callbacks.

    Attributes:
        params: dict of training parameters (verbose, epochs, steps, ...).
        model: the model being trained.
        trainer_state: fitgen's view of the running call beside Keras's logs (`fitgen.engine.trainer.TrainerState`:
            the epoch, whether validation runs inside fit, the share of time spent waiting for data, ...); None
            outside fit/evaluate/predict.

    The `logs` dict a hook receives holds, at batch end, 'batch', 'size', 'loss' and every metric (running
    means over the epoch so far); at epoch end, the epoch's values and their 'val_' twins when validation ran.
    Training hooks `on_train_batch_begin/end` call `on_batch_begin/end`, so Keras 2.2 callbacks keep working.
    """

    trainer_state = None  # a class default: Keras 2 callbacks often skip super().__init__()

    def __init__(self):
        self.validation_data = None
        self.model = None
        self.params = {}

    def set_params(self, params):
        self.params = params

    def set_model(self, model):
        self.model = model

    def set_trainer_state(self, state):
        """Called by the callback list with the `TrainerState` of the call that runs this callback."""
        self.trainer_state = state

    def on_batch_begin(self, batch, logs=None):
        """A backwards-compatible alias of `on_train_batch_begin`."""

    def on_batch_end(self, batch, logs=None):
        """A backwards-compatible alias of `on_train_batch_end`."""

    def on_epoch_begin(self, epoch, logs=None):
        """Called at the start of an epoch (0-based `epoch`)."""

    def on_epoch_end(self, epoch, logs=None):
        """Called at the end of an epoch, with the epoch's training and validation logs."""

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs=logs)

    def on_test_batch_begin(self, batch, logs=None):
        """Called before each batch of `evaluate` and of validation in `fit`."""

    def on_test_batch_end(self, batch, logs=None):
        """Called after each batch of `evaluate` and of validation in `fit`."""

    def on_predict_batch_begin(self, batch, logs=None):
        """Called before each batch of `predict`."""

    def on_predict_batch_end(self, batch, logs=None):
        """Called after each batch of `predict`, with `logs['outputs']`."""

    def on_train_begin(self, logs=None):
        """Called once when training starts."""

    def on_train_end(self, logs=None):
        """Called once when training ends, with the last epoch's logs."""

    def on_test_begin(self, logs=None):
        """Called when evaluation (or validation inside fit) starts."""

    def on_test_end(self, logs=None):
        """Called when evaluation (or validation inside fit) ends."""

    def on_predict_begin(self, logs=None):
        """Called when prediction starts."""

    def on_predict_end(self, logs=None):
        """Called when prediction ends."""

    # Resumable state (BackupAndRestore saves it); stateless callbacks keep the empty default.
    def get_state(self):
        return {}

    def set_state(self, state):
        pass
