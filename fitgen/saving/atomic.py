"""Atomic file writes: a save either lands completely or leaves the previous file untouched.

Writers (h5py, csv, downloads) write into a temporary file in the destination's folder; only when they
finish without error is the data flushed to disk and renamed over the destination (`os.replace` is atomic
within one file system). A crash, kill or exception midway leaves at worst a stray `.tmp` file, never a
half-written destination.
"""
import contextlib
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
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


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
