"""`TerminateOnNaN`: stops training at the first batch whose loss is NaN or infinite."""
import math

from fitgen.callbacks.callback import Callback


class TerminateOnNaN(Callback):
    """Callback that terminates training when a NaN (or infinite) loss is encountered.

    The rest of the epoch is skipped; `on_epoch_end` still runs with the partial averages.
    """

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        loss = float(loss.item() if hasattr(loss, "item") else loss)
        if math.isnan(loss) or math.isinf(loss):
            print(f"Batch {batch}: Invalid loss, terminating training", flush=True)
            self.model.stop_training = True
