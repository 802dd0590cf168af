"""A local HTTP server and isolated cache folders for the data set tests: nothing here reaches the internet."""
import pytest
from helpers.local_server import LocalServer


@pytest.fixture
def server():
    """A LocalServer on 127.0.0.1 (tests/helpers/local_server.py), stopped and joined after the test."""
    with LocalServer() as local:
        yield local


@pytest.fixture
def homes(tmp_path, monkeypatch):
    """(FITGEN_HOME, KERAS_HOME) in tmp_path; HOME too, so the real user's caches are never touched."""
    fitgen_home, keras_home = tmp_path / "fitgen_home", tmp_path / "keras_home"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FITGEN_HOME", str(fitgen_home))
    monkeypatch.setenv("KERAS_HOME", str(keras_home))
    return fitgen_home, keras_home
