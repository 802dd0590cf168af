"""A small HTTP server on 127.0.0.1 for tests that download: nothing here reaches the internet.

Use it as a context manager; `serve(path, data)` publishes bytes at a URL path, `requests` lists the paths
asked for. Import with `from helpers.local_server import LocalServer` (tests/ is on sys.path).
"""
import hashlib
import http.server
import threading


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
        pass  # keep the test output clean


class LocalServer:
    """Serves in-memory files on an ephemeral 127.0.0.1 port, in a thread joined on exit."""

    def __init__(self):
        self.httpd = http.server.HTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.files, self.httpd.requests = {}, []
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="local-http-server")

    @property
    def requests(self):
        return self.httpd.requests

    def serve(self, name, data):
        """Publishes `data` (bytes) at /name; returns (url, sha256 hex digest)."""
        self.httpd.files["/" + name.lstrip("/")] = data
        return f"{self.url}/{name.lstrip('/')}", hashlib.sha256(data).hexdigest()

    def serve_dataset(self, module, name, data, monkeypatch, origin_attr="_ORIGIN", hash_attr="_FILE_HASH"):
        """Serves `data` at /name and points a fitgen.datasets module's origin (and hash) at it."""
        url, digest = self.serve(name, data)
        monkeypatch.setattr(module, origin_attr, url)
        if hash_attr:
            monkeypatch.setattr(module, hash_attr, digest)
        return url

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=10)
        return False
