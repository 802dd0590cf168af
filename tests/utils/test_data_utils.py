"""get_file: caching, hash checks, atomic writes, extraction and the offline message, all on 127.0.0.1."""
import hashlib
import http.server
import io
import os
import socket
import tarfile
import threading
import zipfile
from pathlib import Path

import pytest

from fitgen.utils import data_utils
from fitgen.utils.data_utils import get_file
from fitgen.utils.data_utils import validate_file


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        server = self.server
        server.requests.append(self.path)
        if self.path not in server.files:
            self.send_error(404, "Not Found")
            return
        body = server.files[self.path]
        self.send_response(200)
        # A truncated entry announces its full length and then hangs up halfway, like a dropped connection.
        self.send_header("Content-Length", str(len(body) * (2 if self.path in server.truncated else 1)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.HTTPServer(("127.0.0.1", 0), _Handler)
    httpd.files, httpd.requests, httpd.truncated = {}, [], set()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="test-http")
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


@pytest.fixture
def homes(tmp_path, monkeypatch):
    """Isolated FITGEN_HOME and KERAS_HOME (and HOME, so ~ never points at the real user's files)."""
    fitgen_home, keras_home = tmp_path / "fitgen_home", tmp_path / "keras_home"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FITGEN_HOME", str(fitgen_home))
    monkeypatch.setenv("KERAS_HOME", str(keras_home))
    return fitgen_home, keras_home


def _sha256(data):
    return hashlib.sha256(data).hexdigest()


def _leftovers(directory):
    return sorted(name for name in os.listdir(directory) if name.startswith("."))


def _tar_gz(members):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_download_to_fitgen_home_then_cached(server, homes):
    server.files["/a.bin"] = b"hello fitgen"
    path = get_file("a.bin", server.url + "/a.bin", file_hash=_sha256(b"hello fitgen"))
    assert path == str(homes[0] / "datasets" / "a.bin")
    assert Path(path).read_bytes() == b"hello fitgen"
    again = get_file("a.bin", server.url + "/a.bin", file_hash=_sha256(b"hello fitgen"))
    assert again == path
    assert server.requests == ["/a.bin"]  # the second call used the cache
    assert _leftovers(homes[0] / "datasets") == []


def test_cache_dir_and_cache_subdir_and_md5(server, tmp_path, homes):
    server.files["/b.txt"] = b"abc"
    md5 = hashlib.md5(b"abc").hexdigest()
    path = get_file("b.txt", server.url + "/b.txt", md5_hash=md5, cache_dir=str(tmp_path / "c"), cache_subdir="sub")
    assert path == str(tmp_path / "c" / "sub" / "b.txt")
    assert not (homes[0] / "sub").exists()


def test_fname_defaults_to_url_basename(server, homes):
    server.files["/dir/name.csv"] = b"1,2\n"
    assert get_file(None, server.url + "/dir/name.csv").endswith(os.path.join("datasets", "name.csv"))


def test_reuses_file_keras_downloaded(server, homes):
    keras_datasets = homes[1] / "datasets"
    keras_datasets.mkdir(parents=True)
    (keras_datasets / "k.npz").write_bytes(b"from keras")
    path = get_file("k.npz", server.url + "/k.npz", file_hash=_sha256(b"from keras"))
    assert path == str(keras_datasets / "k.npz")
    assert server.requests == []


def test_outdated_keras_copy_is_ignored_and_fresh_copy_downloaded(server, homes):
    keras_datasets = homes[1] / "datasets"
    keras_datasets.mkdir(parents=True)
    (keras_datasets / "k.npz").write_bytes(b"old")
    server.files["/k.npz"] = b"new"
    path = get_file("k.npz", server.url + "/k.npz", file_hash=_sha256(b"new"))
    assert path == str(homes[0] / "datasets" / "k.npz")
    assert (keras_datasets / "k.npz").read_bytes() == b"old"


def test_corrupt_cached_file_is_downloaded_again(server, homes, capsys):
    datasets = homes[0] / "datasets"
    datasets.mkdir(parents=True)
    (datasets / "c.bin").write_bytes(b"truncat")
    server.files["/c.bin"] = b"truncated no more"
    path = get_file("c.bin", server.url + "/c.bin", file_hash=_sha256(b"truncated no more"))
    assert Path(path).read_bytes() == b"truncated no more"
    out = capsys.readouterr().out
    assert "hash does not match the original value" in out
    assert f"Downloading data from {server.url}/c.bin" in out


def test_hash_mismatch_raises_and_leaves_nothing(server, homes):
    server.files["/bad.bin"] = b"tampered"
    with pytest.raises(ValueError, match="sha256 file hash .* does not match") as info:
        get_file("bad.bin", server.url + "/bad.bin", file_hash=_sha256(b"original"))
    assert _sha256(b"tampered") in str(info.value)
    assert os.listdir(homes[0] / "datasets") == []


def test_connection_dropped_midway_leaves_nothing(server, homes):
    server.files["/half.bin"] = b"x" * 1000
    server.truncated.add("/half.bin")
    with pytest.raises(OSError, match="received 1000 of 2000 bytes"):
        get_file("half.bin", server.url + "/half.bin")
    assert os.listdir(homes[0] / "datasets") == []


def test_http_error_names_url_and_cache_path(server, homes):
    with pytest.raises(OSError) as info:
        get_file("missing.npz", server.url + "/missing.npz")
    message = str(info.value)
    assert f"URL fetch failure on {server.url}/missing.npz: 404" in message
    assert str(homes[0] / "datasets" / "missing.npz") in message
    assert os.listdir(homes[0] / "datasets") == []


def test_offline_message_names_url_and_where_to_put_the_file(homes):
    with socket.socket() as probe:  # a port nobody listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    origin = f"http://127.0.0.1:{port}/mnist.npz"
    with pytest.raises(OSError) as info:
        get_file("mnist.npz", origin, file_hash="0" * 64)
    message = str(info.value)
    assert f"URL fetch failure on {origin}" in message
    assert "place it at:\n    " + str(homes[0] / "datasets" / "mnist.npz") in message
    assert os.listdir(homes[0] / "datasets") == []


def test_untar_extracts_folder_once(server, homes):
    archive = _tar_gz({"pack/one.txt": b"1", "pack/sub/two.txt": b"22"})
    server.files["/pack.tar.gz"] = archive
    path = get_file("pack", server.url + "/pack.tar.gz", untar=True, file_hash=_sha256(archive))
    datasets = homes[0] / "datasets"
    assert path == str(datasets / "pack")
    assert (datasets / "pack.tar.gz").read_bytes() == archive
    assert (datasets / "pack" / "sub" / "two.txt").read_bytes() == b"22"
    (datasets / "pack" / "one.txt").write_bytes(b"edited")  # not re-extracted on the next call
    assert get_file("pack", server.url + "/pack.tar.gz", untar=True, file_hash=_sha256(archive)) == path
    assert (datasets / "pack" / "one.txt").read_bytes() == b"edited"
    assert server.requests == ["/pack.tar.gz"]
    assert _leftovers(datasets) == []


def test_extract_zip_and_tar(server, homes):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("z/inside.txt", "zipped")
    server.files["/z.zip"] = buffer.getvalue()
    server.files["/t.tar.gz"] = _tar_gz({"t/inside.txt": b"tarred"})
    datasets = homes[0] / "datasets"
    assert get_file("z.zip", server.url + "/z.zip", extract=True) == str(datasets / "z.zip")
    assert (datasets / "z" / "inside.txt").read_text() == "zipped"
    get_file("t.tar.gz", server.url + "/t.tar.gz", extract=True, archive_format="tar")
    assert (datasets / "t" / "inside.txt").read_text() == "tarred"
    get_file("x.tar.gz", server.url + "/t.tar.gz", extract=True, archive_format="zip")  # not a zip: no-op
    assert _leftovers(datasets) == []


def test_tar_member_escaping_the_cache_is_refused(server, homes):
    archive = _tar_gz({"../evil.txt": b"boom"})
    server.files["/evil.tar.gz"] = archive
    with pytest.raises((ValueError, tarfile.TarError)):
        get_file("evil.tar.gz", server.url + "/evil.tar.gz", extract=True)
    assert not (homes[0] / "evil.txt").exists()
    assert _leftovers(homes[0] / "datasets") == []


def test_bad_arguments():
    with pytest.raises(ValueError, match="origin"):
        get_file("a", None)
    with pytest.raises(ValueError, match="hash_algorithm='sha1'"):
        get_file("a", "http://127.0.0.1:1/a", hash_algorithm="sha1")
    with pytest.raises(ValueError, match="fname"):
        get_file(None, "http://127.0.0.1:1/")


def test_bad_archive_format(server, homes):
    server.files["/a.bin"] = b"a"
    with pytest.raises(ValueError, match="archive_format='rar'"):
        get_file("a.bin", server.url + "/a.bin", extract=True, archive_format="rar")


def test_validate_file(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"data")
    assert validate_file(str(path), hashlib.sha256(b"data").hexdigest())
    assert validate_file(str(path), hashlib.md5(b"data").hexdigest())
    assert validate_file(str(path), hashlib.md5(b"data").hexdigest(), algorithm="md5")
    assert not validate_file(str(path), hashlib.md5(b"data").hexdigest(), algorithm="sha256")
    assert data_utils._hash_file(str(path)) == hashlib.sha256(b"data").hexdigest()
