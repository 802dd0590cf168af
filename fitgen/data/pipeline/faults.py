"""Worker faults made visible in the caller: wrapped exceptions, dead workers, timeouts.

See NOTE [ fitgen prefetch shutdown ] in prefetcher.py for where these are raised.
"""
import signal
import sys
import traceback


class KeyErrorMessage(str):
    """A str whose repr is itself, so a re-raised KeyError prints its multi-line message readably."""

    def __repr__(self):
        return self


class WorkerError:
    """An exception caught in a worker, carried to the caller (by pickle for process workers).

    The exception object itself may not pickle (or may hold a whole batch); what crosses is its type, the
    formatted traceback text and the batch index. `reraise()` raises the same type where its constructor
    takes one message, else a RuntimeError with the same text, like torch's ExceptionWrapper.
    """

    def __init__(self, exc, index, where):
        self.exc_type = type(exc)
        self.type_name = f"{type(exc).__module__}.{type(exc).__qualname__}"
        self.index = index
        self.where = where
        self.traceback = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        # Kept only inside one process (threads/inline); dropped when pickled.
        self.original = exc

    def __getstate__(self):
        state = dict(self.__dict__, original=None)
        return state

    def degraded(self):
        """A copy whose exception type is dropped, for when the type itself cannot be pickled."""
        copy = object.__new__(WorkerError)
        copy.__dict__.update(self.__getstate__(), exc_type=None)
        return copy

    def message(self):
        return (f"Caught {self.type_name} in {self.where} while producing batch {self.index}.\n"
                f"Original traceback:\n{self.traceback}")

    def reraise(self):
        text = self.message()
        if self.exc_type is KeyError:
            text = KeyErrorMessage(text)
        try:
            error = self.exc_type(text) if self.exc_type is not None else None
        except Exception:
            error = None
        if error is None or not isinstance(error, BaseException):
            error = RuntimeError(text)
        raise error from self.original


def describe_exit(exitcode):
    """'exit code 3' or 'killed by signal SIGKILL' for a multiprocessing exitcode."""
    if exitcode is None:
        return "still running"
    if exitcode < 0:
        try:
            return f"killed by signal {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit code {exitcode}"


def worker_died_error(worker_id, exitcode, index, retried, kind):
    what = "the generator's producer process" if kind == "stream" else f"worker process {worker_id}"
    text = f"fitgen data pipeline: {what} died ({describe_exit(exitcode)}) while producing batch {index}."
    if kind == "stream":
        text += (" A generator's state lives in that one process and is lost, so the batch cannot be "
                 "retried. Use a Sequence (indexable, restartable) for fault tolerance, or "
                 "use_multiprocessing=False.")
    elif retried:
        text += (" The worker had already been restarted once for this batch and the retry failed too; "
                 "check the batch for out-of-memory or native crashes (segfaults) in __getitem__.")
    return RuntimeError(text)


def batch_timeout_error(index, timeout):
    return TimeoutError(f"fitgen data pipeline: batch {index} was not produced within timeout={timeout} s. "
                        "A worker may be hung (deadlock, blocking I/O), or the timeout is too short for "
                        "one batch.")


def ignore_sigint():
    """Workers leave Ctrl-C to the main process, which then shuts them down in order."""
    if sys.platform != "win32":
        signal.signal(signal.SIGINT, signal.SIG_IGN)
