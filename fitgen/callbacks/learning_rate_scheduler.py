"""`LearningRateScheduler`: sets the learning rate from `schedule(epoch[, lr])` at every epoch start."""
import numpy as np
import torch

from fitgen import backend
from fitgen.callbacks.callback import Callback


class LearningRateScheduler(Callback):
    """Learning rate scheduler.

    Args:
        schedule: a function `schedule(epoch, lr) -> new_lr` (or the Keras 2.2 form `schedule(epoch)`), with
            `epoch` the 0-based absolute epoch index (it includes `initial_epoch`). It must return a float.
        verbose: 1 prints "Epoch N: LearningRateScheduler setting learning rate to X." at each epoch.

    Raises:
        ValueError: when the optimizer has no `lr`, or `schedule` returns something other than a float.

    Example:

    ```python
    def scheduler(epoch, lr):
        return lr if epoch < 10 else lr * 0.9
    model.fit(x, y, epochs=15, callbacks=[LearningRateScheduler(scheduler)])
    ```
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is None or not hasattr(optimizer, "lr"):
            raise ValueError('Optimizer must have a "lr" attribute.')
        try:
            lr = self.schedule(epoch, float(backend.get_value(optimizer.lr)))
        except TypeError:
            # Keras 2.2 schedules take only the epoch.
            lr = self.schedule(epoch)
        if isinstance(lr, torch.Tensor):
            if not lr.is_floating_point():
                raise ValueError(f"The dtype of `lr` Tensor should be float. Got: {lr.dtype}")
            lr = lr.detach().cpu().reshape(()).item()
        elif isinstance(lr, np.ndarray) and lr.ndim == 0 and np.issubdtype(lr.dtype, np.floating):
            lr = lr.item()
        if not isinstance(lr, (float, np.float32, np.float64)):
            raise ValueError(f'The output of the "schedule" function should be float. Got: {lr}')  # noqa: TRY004 (Keras raises ValueError)
        backend.set_value(optimizer.lr, float(lr))
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {lr}.", flush=True)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["lr"] = float(np.float32(backend.get_value(self.model.optimizer.lr)))
