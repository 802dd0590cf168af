"""Download-and-cache helper of Keras 2's `keras.utils.data_utils`: `get_file` and `validate_file`.

Where files live (the one deliberate change from Keras, whose cache is `~/.keras`):

* fitgen writes to `$FITGEN_HOME/<cache_subdir>` (default `~/.fitgen/datasets`), or to
  `<cache_dir>/<cache_subdir>` when `cache_dir` is given; if that folder cannot be written it falls
  back to `<tmpdir>/.fitgen`, as Keras falls back to `/tmp/.keras`.
* When `cache_dir` is not given, a file that Keras already downloaded to `$KERAS_HOME/<cache_subdir>`
  (default `~/.keras/datasets`) is used in place, as long as it passes the hash check, so Keras users
  do not download their data sets twice.

A download goes to a hidden temporary file in the cache folder, is flushed to disk, checked against
the expected hash and only then renamed to its final name: the cache never holds a half-written or
corrupt file, whether the connection drops, the hash mismatches or the user presses Ctrl-C.
Archives are extracted into a temporary folder first and moved into place when complete.
"""
import hashlib
import http.client
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile

_HASH_CHUNK_SIZE = 65535
_DOWNLOAD_CHUNK_SIZE = 1 << 16
# Seconds without any byte from the server before the download is abandoned (Keras waits forever).
_SOCKET_TIMEOUT = 60
_HASH_ALGORITHMS = ("auto", "sha256", "md5")


def _home(env_var, default_name):
    value = os.environ.get(env_var)
    return os.path.expanduser(value) if value else os.path.join(os.path.expanduser("~"), default_name)


def _writable_dir(path):
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:
        return False
    return os.access(path, os.W_OK | os.X_OK)


def _cache_paths(datadir, fname, untar):
    """Returns `(archive_or_file_path, untar_path_or_None)` inside `datadir`, following Keras's naming."""
    if untar:
        stem = fname.removesuffix(".tar.gz")
        untar_fpath = os.path.join(datadir, stem)
        return untar_fpath + ".tar.gz", untar_fpath
    return os.path.join(datadir, fname), None


def get_file(
    fname,
    origin,
    untar=False,
    md5_hash=None,
    file_hash=None,
    cache_subdir="datasets",
    hash_algorithm="auto",
    extract=False,
    archive_format="auto",
    cache_dir=None,
):
    """Downloads a file from a URL if it is not already in the cache.

    By default the file at `origin` is saved as `~/.fitgen/datasets/<fname>` (the folder can be moved
    with the `FITGEN_HOME` environment variable or the `cache_dir` argument), and a copy that Keras
    already downloaded to `~/.keras/datasets` is reused. Passing a hash makes fitgen verify the file
    after the download, and re-download a cached file that does not match.

    Args:
        fname: name of the file. An absolute path saves the file there. If empty, the last part of
            `origin`'s path is used.
        origin: URL of the file.
        untar: deprecated in favour of `extract`; treat the file as a `.tar.gz` archive, extract it
            next to itself and return the path of the extracted folder `fname` (without `.tar.gz`).
        md5_hash: deprecated in favour of `file_hash`; md5 hash of the file.
        file_hash: expected hash of the file after download, sha256 or md5 (hex digest).
        cache_subdir: subfolder of the cache where the file is saved (an absolute path is used as is).
        hash_algorithm: `'md5'`, `'sha256'` or `'auto'` (picks by the length of `file_hash`).
        extract: extract the file if it is a tar or zip archive.
        archive_format: `'auto'`, `'tar'`, `'zip'`, a list of those, or None (no extraction).
        cache_dir: base folder of the cache instead of `$FITGEN_HOME` / `~/.fitgen`.

    Returns:
        Path to the downloaded file (or to the extracted folder with `untar=True`).

    Raises:
        ValueError: bad arguments, or the downloaded file does not match `file_hash` (nothing is
            kept in the cache then).
        OSError: the file could not be downloaded; the message names the URL and the path where the
            file can be placed by hand on a machine without network access.
    """
    if origin is None:
        raise ValueError('Please specify the "origin" argument (URL of the file to download). Received: origin=None.')
    if md5_hash is not None and file_hash is None:
        file_hash, hash_algorithm = md5_hash, "md5"
    if hash_algorithm not in _HASH_ALGORITHMS:
        raise ValueError(f"`hash_algorithm` must be one of {_HASH_ALGORITHMS}. Received: hash_algorithm={hash_algorithm!r}.")
    fname = os.fspath(fname) if fname else ""
    if not fname:
        fname = os.path.basename(urllib.parse.urlsplit(origin).path)
        if not fname:
            raise ValueError(f"Can't derive a file name from origin={origin!r}. Please pass `fname`.")

    own_base = os.path.expanduser(cache_dir) if cache_dir is not None else _home("FITGEN_HOME", ".fitgen")
    datadir = os.path.join(own_base, cache_subdir)
    if not _writable_dir(datadir):
        datadir = os.path.join(tempfile.gettempdir(), ".fitgen", cache_subdir)
        os.makedirs(datadir, exist_ok=True)
    fpath, untar_fpath = _cache_paths(datadir, fname, untar)

    if not _is_valid_cached(fpath, file_hash, hash_algorithm):
        legacy = None
        if cache_dir is None:
            legacy = _find_keras_copy(cache_subdir, fname, untar, extract, file_hash, hash_algorithm)
        if legacy is not None:
            datadir = os.path.dirname(legacy[0])
            fpath, untar_fpath = legacy
        else:
            if os.path.exists(fpath) and file_hash is not None:
                print(
                    f"A local file was found, but it seems to be incomplete or outdated because the "
                    f"{_algorithm_name(hash_algorithm, file_hash)} file hash does not match the original value "
                    f"of {file_hash} so we will re-download the data."
                )
            _download(origin, fpath, file_hash, hash_algorithm)

    if untar:
        if not os.path.exists(untar_fpath):
            _extract_archive(fpath, datadir, archive_format="tar")
        return untar_fpath
    if extract:
        _extract_archive(fpath, datadir, archive_format)
    return fpath


def _is_valid_cached(fpath, file_hash, hash_algorithm):
    if not os.path.isfile(fpath):
        return False
    return file_hash is None or validate_file(fpath, file_hash, algorithm=hash_algorithm)


def _find_keras_copy(cache_subdir, fname, untar, extract, file_hash, hash_algorithm):
    """Paths of a usable copy that Keras itself downloaded, or None."""
    keras_datadir = os.path.join(_home("KERAS_HOME", ".keras"), cache_subdir)
    fpath, untar_fpath = _cache_paths(keras_datadir, fname, untar)
    if not _is_valid_cached(fpath, file_hash, hash_algorithm):
        return None
    # The archive alone is not enough when it would have to be extracted into a folder we may not write.
    needs_writing = (untar and not os.path.exists(untar_fpath)) or extract
    if needs_writing and not os.access(keras_datadir, os.W_OK | os.X_OK):
        return None
    return fpath, untar_fpath


def _algorithm_name(algorithm, file_hash):
    if algorithm == "sha256" or (algorithm == "auto" and file_hash is not None and len(file_hash) == 64):
        return "sha256"
    return "md5"


def _resolve_hasher(algorithm, file_hash=None):
    return hashlib.sha256() if _algorithm_name(algorithm, file_hash) == "sha256" else hashlib.md5()


def _hash_file(fpath, algorithm="sha256", chunk_size=_HASH_CHUNK_SIZE):
    """Hex digest of a file; `algorithm` is 'sha256', 'md5', 'auto' (sha256) or a hashlib object."""
    hasher = _resolve_hasher(algorithm) if isinstance(algorithm, str) else algorithm
    with open(fpath, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def validate_file(fpath, file_hash, algorithm="auto", chunk_size=_HASH_CHUNK_SIZE):
    """Checks a file against an md5 or sha256 hash.

    Args:
        fpath: path to the file.
        file_hash: expected hex digest.
        algorithm: `'sha256'`, `'md5'` or `'auto'` (sha256 for a 64-character hash, md5 otherwise).
        chunk_size: bytes read at a time.

    Returns:
        Whether the file matches the hash.
    """
    hasher = _resolve_hasher(algorithm, file_hash)
    return str(_hash_file(fpath, hasher, chunk_size)) == str(file_hash)


def _fetch_error(origin, fpath, detail):
    return OSError(
        f"URL fetch failure on {origin}: {detail}\n"
        f"fitgen could not download this file. On a machine without network access, download {origin} "
        f"elsewhere and place it at:\n    {fpath}"
    )


def _make_progbar(total_size):
    try:
        from fitgen.utils.progbar import Progbar
    except ImportError:  # the progress bar is cosmetic; downloads work without it
        return None
    return Progbar(total_size if total_size and total_size > 0 else None)


def _download(origin, fpath, file_hash, hash_algorithm):
    """Fetches `origin` to `fpath` atomically: temp file in the same folder → fsync → hash check → rename."""
    directory = os.path.dirname(fpath) or "."
    print(f"Downloading data from {origin}")
    fd, tmp_path = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(fpath)}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            _fetch_into(origin, fpath, out)
            out.flush()
            os.fsync(out.fileno())
        if file_hash is not None and not validate_file(tmp_path, file_hash, algorithm=hash_algorithm):
            algorithm = _algorithm_name(hash_algorithm, file_hash)
            raise ValueError(
                f"Incomplete or corrupted file detected. The {algorithm} file hash of the data downloaded from "
                f"{origin} does not match the provided value of {file_hash}. "
                f"Received: {_hash_file(tmp_path, algorithm)}. Nothing was saved to {fpath}."
            )
        os.replace(tmp_path, fpath)
    except BaseException:
        # Ctrl-C included: a partial download must never survive under any name.
        try:
            os.remove(tmp_path)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(directory)


def _fetch_into(origin, fpath, out):
    try:
        response = urllib.request.urlopen(origin, timeout=_SOCKET_TIMEOUT)
    except urllib.error.HTTPError as e:
        e.close()  # it holds the server's error page open
        raise _fetch_error(origin, fpath, f"{e.code} -- {e.reason}") from e
    except urllib.error.URLError as e:
        raise _fetch_error(origin, fpath, f"{getattr(e.reason, 'errno', None)} -- {e.reason}") from e
    except (OSError, http.client.HTTPException, ValueError) as e:
        raise _fetch_error(origin, fpath, repr(e)) from e
    with response:
        length = response.headers.get("Content-Length")
        total_size = int(length.strip()) if length and length.strip().isdigit() else None
        progbar = _make_progbar(total_size)
        received = 0
        try:
            while True:
                chunk = response.read(_DOWNLOAD_CHUNK_SIZE)
                if not chunk:
                    break
                out.write(chunk)
                received += len(chunk)
                if progbar is not None:
                    progbar.update(min(received, total_size) if total_size else received)
        except (OSError, http.client.HTTPException) as e:
            raise _fetch_error(origin, fpath, f"download interrupted after {received} bytes ({e!r})") from e
    if progbar is not None and total_size is None:
        sys.stdout.write("\n")  # a bar without a target never ends its own line
    # http.client returns a short body silently when the connection drops early.
    if total_size is not None and received != total_size:
        raise _fetch_error(origin, fpath, f"download interrupted: received {received} of {total_size} bytes")


def _fsync_dir(directory):
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:  # e.g. platforms that cannot open folders; the rename itself is still atomic
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def _archive_formats(archive_format):
    if archive_format is None:
        return []
    formats = ["tar", "zip"] if archive_format == "auto" else archive_format
    formats = [formats] if isinstance(formats, str) else list(formats)
    for fmt in formats:
        if fmt not in ("tar", "zip"):
            raise ValueError(
                f"`archive_format` must be 'auto', 'tar', 'zip', a list of those, or None. "
                f"Received: archive_format={archive_format!r}."
            )
    return formats


def _extract_archive(file_path, path=".", archive_format="auto"):
    """Extracts a tar or zip archive into `path`; returns whether the file was an archive of those formats.

    Members are unpacked into a hidden temporary folder inside `path` and moved into place only once the
    whole archive was read, so an interrupted or failing extraction leaves no partial folder behind.
    Members that would land outside `path` (absolute names, `..`, links escaping it) are refused.
    """
    file_path, path = os.fspath(file_path), os.fspath(path)
    for fmt in _archive_formats(archive_format):
        if fmt == "tar" and tarfile.is_tarfile(file_path):
            unpack = _extract_tar
        elif fmt == "zip" and zipfile.is_zipfile(file_path):
            unpack = _extract_zip
        else:
            continue
        staging = tempfile.mkdtemp(dir=path, prefix=".extract-")
        try:
            unpack(file_path, staging)
            for name in os.listdir(staging):
                target = os.path.join(path, name)
                if os.path.isdir(target) and not os.path.islink(target):
                    shutil.rmtree(target)
                elif os.path.lexists(target):
                    os.remove(target)
                os.replace(os.path.join(staging, name), target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return True
    return False


def _extract_tar(file_path, destination):
    with tarfile.open(file_path) as archive:
        if hasattr(tarfile, "data_filter"):
            archive.extractall(destination, filter="data")
            return
        root = os.path.realpath(destination)
        for member in archive.getmembers():
            _check_inside(root, os.path.join(root, member.name), member.name)
            if member.issym() or member.islnk():
                link_base = os.path.dirname(os.path.join(root, member.name)) if member.issym() else root
                _check_inside(root, os.path.join(link_base, member.linkname), member.name)
        archive.extractall(destination)


def _extract_zip(file_path, destination):
    # zipfile already strips absolute prefixes and `..` components from member names.
    with zipfile.ZipFile(file_path) as archive:
        archive.extractall(destination)


def _check_inside(root, candidate, member_name):
    resolved = os.path.realpath(candidate)
    if resolved != root and not resolved.startswith(root + os.sep):
        raise ValueError(f"Archive member {member_name!r} would be extracted outside of {root}; refusing to extract it.")


from fitgen.data.sequence import Sequence  # noqa: E402,F401  (keras.utils.data_utils.Sequence in Keras 2)
from fitgen.utils.enqueuers import GeneratorEnqueuer, OrderedEnqueuer, SequenceEnqueuer  # noqa: E402,F401
