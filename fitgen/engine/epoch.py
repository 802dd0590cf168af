"""`run_epoch`: the one pass over batches. fit, fit_generator, evaluate, predict and validation all run through
it; data kinds differ only in the adapter that yields the batches, steps only in the runner that runs them.
"""
from fitgen.callbacks.logs import MetricLogs
from fitgen.engine.step import batch_size_of


def run_epoch(batches, runner, callbacks, mode, model=None, outputs_sink=None, first_step=0):
    """Runs `runner` on every batch of one epoch, calling the batch hooks of `mode` ('train'|'test'|'predict').

    Returns the number of batches run. Stops early when `model.stop_training` is set by a callback (train).
    """
    begin, end = f"on_{mode}_batch_begin", f"on_{mode}_batch_end"
    wants_begin, wants_end = callbacks.wants(begin), callbacks.wants(end)
    predicting = mode == "predict"
    steps = 0
    for step, batch in enumerate(batches, start=first_step):
        x = batch[0]
        size = x[0].shape[0] if x[0] is not None else batch_size_of(x)
        if wants_begin:
            callbacks.on_batch_begin(mode, step, {"batch": step, "size": size})
        if predicting:
            outputs = runner.run(batch, size)
            outputs_sink(outputs)
            if wants_end:
                callbacks.on_batch_end(mode, step, {"batch": step, "size": size, "outputs": outputs})
        else:
            runner.run(batch, size)
            if wants_end:
                callbacks.on_batch_end(mode, step, _batch_logs(runner, step, size))
        steps += 1
        if mode == "train" and model.stop_training:
            break
    return steps


def _batch_logs(runner, step, size):
    def materialise():
        logs = MetricLogs(batch=step, size=size)
        logs.update(runner.results())
        return logs
    return materialise
