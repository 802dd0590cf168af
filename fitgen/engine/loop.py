"""The one epoch loop. fit, fit_generator, evaluate, predict and validation all run through `run_epoch`;
data kinds differ only in the adapter that yields the batches.
"""
from fitgen.callbacks.logs import MetricLogs
from fitgen.engine.step import batch_size_of


def run_epoch(batches, step_fn, callbacks, mode, metrics=None, model=None, outputs_sink=None, first_step=0):
    """Runs `step_fn` on every batch of one epoch, calling the batch hooks of `mode` ('train'|'test'|'predict').

    Returns the number of batches run. Stops early when `model.stop_training` is set by a callback (train).
    """
    begin, end = f"on_{mode}_batch_begin", f"on_{mode}_batch_end"
    wants_begin, wants_end = callbacks.wants(begin), callbacks.wants(end)
    steps = 0
    for step, batch in enumerate(batches, start=first_step):
        x = batch[0]
        size = x[0].shape[0] if x[0] is not None else batch_size_of(x)
        if wants_begin:
            callbacks.on_batch_begin(mode, step, {"batch": step, "size": size})
        if mode == "predict":
            outputs = step_fn(x)
            outputs_sink(outputs)
            if wants_end:
                callbacks.on_batch_end(mode, step, {"batch": step, "size": size, "outputs": outputs})
        else:
            total, per_output, outputs = step_fn(*batch)
            metrics.update(size, total, per_output, batch[1], outputs, batch[2])
            if wants_end:
                callbacks.on_batch_end(mode, step, _batch_logs(metrics, step, size))
        steps += 1
        if mode == "train" and model.stop_training:
            break
    return steps


def _batch_logs(metrics, step, size):
    def materialise():
        logs = MetricLogs(batch=step, size=size)
        logs.update(metrics.results())
        return logs
    return materialise
