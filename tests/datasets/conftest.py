"""A local HTTP server and isolated cache folders for the data set tests: nothing here reaches the internet."""
import hashlib
import http.server
import threading

import pytest


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.server.requests.append(self.path)
        body = self.server.files.get(self.path)
        if body is None:
            self.send_error(404, "Not Found")
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class _Server:
    def __init__(self, httpd):
        self.httpd = httpd
        self.url = f"http://127.0.0.1:{httpd.server_address[1]}"

    @property
    def requests(self):
        return self.httpd.requests

    def serve(self, module, name, data, origin_attr="_ORIGIN", hash_attr="_FILE_HASH", monkeypatch=None):
        """Serves `data` at /name and points `module`'s origin (and hash, when it has one) at it."""
        self.httpd.files["/" + name] = data
        monkeypatch.setattr(module, origin_attr, f"{self.url}/{name}")
        if hash_attr:
            monkeypatch.setattr(module, hash_attr, hashlib.sha256(data).hexdigest())


@pytest.fixture
def server():
    httpd = http.server.HTTPServer(("127.0.0.1", 0), _Handler)
    httpd.files, httpd.requests = {}, []
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="datasets-http")
    thread.start()
    try:
        yield _Server(httpd)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


@pytest.fixture
def homes(tmp_path, monkeypatch):
    """(FITGEN_HOME, KERAS_HOME) in tmp_path; HOME too, so the real user's caches are never touched."""
    fitgen_home, keras_home = tmp_path / "fitgen_home", tmp_path / "keras_home"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FITGEN_HOME", str(fitgen_home))
    monkeypatch.setenv("KERAS_HOME", str(keras_home))
    return fitgen_home, keras_home
