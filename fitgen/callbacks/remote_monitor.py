"""`RemoteMonitor`: POSTs each epoch's logs to an HTTP server (the standard library's urllib, no `requests`)."""
import json
import urllib.error
import urllib.parse
import urllib.request
import warnings

import numpy as np

from fitgen.callbacks.callback import Callback


class RemoteMonitor(Callback):
    """Callback used to stream events to a server.

    At each epoch end it sends `{'epoch': epoch, **logs}`: as a form field `field` holding the JSON text, or,
    with `send_as_json=True`, as a JSON body. An unreachable server gives a warning, never an error.

    Args:
        root: root URL of the target server.
        path: path relative to `root` to which the events are sent.
        field: form field under which the JSON is stored (form mode).
        headers: optional dict of extra HTTP headers.
        send_as_json: send the data as `application/json` instead of a form.
        timeout: seconds to wait for the server.
    """

    def __init__(self, root="http://localhost:9000", path="/publish/epoch/end/", field="data", headers=None,
                 send_as_json=False, timeout=10.0):
        super().__init__()
        self.root = root
        self.path = path
        self.field = field
        self.headers = headers
        self.send_as_json = send_as_json
        self.timeout = timeout

    def on_epoch_end(self, epoch, logs=None):
        send = {"epoch": epoch}
        for key, value in (logs or {}).items():
            send[key] = value.item() if isinstance(value, (np.ndarray, np.generic)) else value
        headers = dict(self.headers or {})
        if self.send_as_json:
            body = json.dumps(send).encode("utf-8")
            headers.setdefault("Content-Type", "application/json")
        else:
            body = urllib.parse.urlencode({self.field: json.dumps(send)}).encode("utf-8")
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        request = urllib.request.Request(self.root + self.path, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
        except (urllib.error.URLError, OSError):
            warnings.warn(f"Warning: could not reach RemoteMonitor root server at {self.root}", RuntimeWarning,
                          stacklevel=2)
