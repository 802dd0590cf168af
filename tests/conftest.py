"""Test-suite police: every test must leave no threads, child processes or /dev/shm segments behind."""
import gc
import os
import threading
import time

import pytest

JOIN_TIMEOUT = 10.0


def _shm_segments():
    """Shared-memory segments this test process made: fitgen names them fitgen_<creator pid>_..., so test
    runs of other processes on the same machine are not counted."""
    mine = f"fitgen_{os.getpid()}_"
    try:
        return {name for name in os.listdir("/dev/shm") if name.startswith(mine)}
    except FileNotFoundError:
        return set()


def _children():
    try:
        import psutil  # optional: better child listing when installed
        return {p.pid for p in psutil.Process().children(recursive=True)}
    except ImportError:
        pass
    pids = set()
    me = str(os.getpid())
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == me and fields[0] != "Z":
            pids.add(int(entry))
    return pids


def _live_threads():
    return {t for t in threading.enumerate() if t.is_alive() and not t.name.startswith(("pytest_timeout", "asyncio"))}


@pytest.fixture(autouse=True)
def no_leaks(request):
    """Fails a test that leaves threads, processes or shared-memory segments behind (bounded wait)."""
    if request.node.get_closest_marker("allow_leaks"):
        yield
        return
    threads_before = _live_threads()
    shm_before = _shm_segments()
    yield
    deadline = time.monotonic() + JOIN_TIMEOUT
    first = True
    while True:
        if not first:  # the common clean case costs no gc pass
            gc.collect()
        first = False
        threads = {t for t in _live_threads() - threads_before if not t.daemon or t.is_alive()}
        threads = {t for t in threads if t.is_alive()}
        children = _children()
        shm = _shm_segments() - shm_before
        if not (threads or children or shm) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    problems = []
    if threads:
        problems.append(f"threads left running: {sorted(t.name for t in threads)}")
    if children:
        problems.append(f"child processes left running: {sorted(children)}")
    if shm:
        problems.append(f"/dev/shm segments left behind: {sorted(shm)}")
    assert not problems, "; ".join(problems)


@pytest.fixture(autouse=True)
def fresh_session():
    """Each test starts with Keras's default layer names (dense, dense_1, ...) and a fixed seed."""
    from fitgen import backend
    backend.clear_session()
    backend.set_random_seed(1234)
    yield


def pytest_configure(config):
    config.addinivalue_line("markers", "allow_leaks: the test manages its own processes (e.g. torchrun)")
    config.addinivalue_line("markers", "slow: takes more than a few seconds")
