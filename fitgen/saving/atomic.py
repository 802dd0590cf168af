"""Atomic file writes: a save either lands completely or leaves the previous file untouched.

Writers (h5py, csv, downloads) write into a temporary file in the destination's folder; only when they
finish without error is the data flushed to disk and renamed over the destination (`os.replace` is atomic
within one file system). A crash, kill or exception midway leaves at worst a stray `.tmp` file, never a
half-written destination. The price is room for a second copy while the new file is written: a disk that
fills up midway raises an OSError (ENOSPC) naming the destination, which keeps its previous content.
"""
import contextlib
import errno
import os
import tempfile


@contextlib.contextmanager
def atomic_write(path):
    """Context manager yielding a temporary path to write instead of `path`.

    ```python
    with atomic_write("model.h5") as tmp:
        with h5py.File(tmp, "w") as f:
            ...
    ```

    On normal exit the temporary file is fsync'ed and renamed to `path` (and the folder entry is synced);
    on an exception it is removed and the exception propagates, so `path` keeps its previous content.

    Args:
        path: the destination file (str or os.PathLike). Its folder is created if missing.

    Yields:
        The temporary file's path (str), in the same folder as `path`, not yet existing.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    os.close(fd)
    # Writers such as h5py refuse or mis-handle an existing empty file in some modes; give them a fresh name.
    os.unlink(tmp)
    try:
        yield tmp
        if not os.path.exists(tmp):
            raise OSError(f"Nothing was written to the temporary file {tmp!r} for {path!r}.")
        _fsync_file(tmp)
        if os.path.exists(path):
            try:
                os.chmod(tmp, os.stat(path).st_mode & 0o7777)
            except OSError:
                pass
        else:
            _apply_umask(tmp)
        os.replace(tmp, path)
        _fsync_folder(folder)
    except BaseException as error:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        code = _out_of_space(error, folder)
        if code is None:
            raise
        raise OSError(code, f"{os.strerror(code)} while saving {path!r}: an atomic save writes the whole new file "
                            f"next to the old one (as {os.path.basename(tmp)!r}) before replacing it, so it needs room "
                            "for a second copy while it writes. The previous file, if any, is intact; free some "
                            "space (or save elsewhere) and try again.", path) from error


# Errors that mean "no room for the file": no space, file too large (e.g. a size limit), disk quota exceeded.
_SPACE_ERRORS = {errno.ENOSPC: "No space left on device", errno.EFBIG: "File too large",
                 errno.EDQUOT: "Disk quota exceeded"}
# Below this many free bytes after a failed write, the failure is taken as the disk filling up (h5py sometimes
# reports a full disk only as a secondary error, e.g. "Slist already enabled?" or "Unable to flush").
_NEARLY_FULL = 1 << 16


def _out_of_space(error, folder):
    """The errno (ENOSPC, EFBIG, EDQUOT) when `error`, or one it was raised from, says the disk is full."""
    if not isinstance(error, Exception):
        return None
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno in _SPACE_ERRORS:
            return error.errno
        text = str(error)
        for code, words in _SPACE_ERRORS.items():
            if words in text or f"errno = {code}," in text:
                return code
        error = error.__cause__ or error.__context__
    try:
        stats = os.statvfs(folder)
    except (OSError, AttributeError):  # statvfs is POSIX only
        return None
    return errno.ENOSPC if stats.f_bavail * stats.f_frsize < _NEARLY_FULL else None


def _fsync_file(path):
    with open(path, "rb+") as f:
        f.flush()
        os.fsync(f.fileno())


def _fsync_folder(folder):
    # Makes the rename itself durable; not possible on every platform (e.g. Windows), hence best effort.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _apply_umask(path):
    # mkstemp creates 0600 files; a saved model should get the usual permissions of a new file.
    umask = os.umask(0)
    os.umask(umask)
    with contextlib.suppress(OSError):
        os.chmod(path, 0o666 & ~umask)
