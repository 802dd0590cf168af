"""Worker faults made visible in the caller: wrapped exceptions, dead workers, timeouts.

See NOTE [ fitgen prefetch shutdown ] in prefetcher.py for where these are raised.
"""
import pickle
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
    formatted traceback text, the batch index, and a pickle of the exception when it is small and pickles
    back. `reraise()` raises the same type with the worker's traceback and the batch index in its message
    where its constructor takes one message; otherwise the original exception itself (its attributes intact,
    e.g. `UnreadableImageError.path`) with that text as a note; a RuntimeError with the text only when the
    exception cannot be brought over at all.
    """

    def __init__(self, exc, index, where):
        self.exc_type = type(exc)
        self.type_name = f"{type(exc).__module__}.{type(exc).__qualname__}"
        self.index = index
        self.where = where
        self.traceback = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        # Kept only inside one process (threads/inline); dropped when pickled.
        self.original = exc
        self.pickled = _small_pickle(exc)

    def __getstate__(self):
        state = dict(self.__dict__, original=None)
        return state

    def degraded(self):
        """A copy whose exception type is dropped, for when the type itself cannot be pickled."""
        copy = object.__new__(WorkerError)
        copy.__dict__.update(self.__getstate__(), exc_type=None, pickled=None)
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
            original = self._original()
            if original is not None:
                if hasattr(original, "add_note"):
                    original.add_note(text)
                raise original
            error = RuntimeError(text)
        raise error from self.original

    def _original(self):
        if self.original is not None:
            return self.original
        if self.pickled is None:
            return None
        try:
            original = pickle.loads(self.pickled)
        except Exception:
            return None
        return original if isinstance(original, BaseException) else None


# Exceptions up to this size cross from process workers whole (beyond: type and text only).
_PICKLE_LIMIT = 1 << 16


def _small_pickle(exc):
    """A pickle of `exc` that is small and loads back into the same type, else None."""
    try:
        data = pickle.dumps(exc)
        if len(data) > _PICKLE_LIMIT or type(pickle.loads(data)) is not type(exc):
            return None
        return data
    except Exception:
        return None


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
