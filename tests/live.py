"""A live studio for tests that need a real server: studio.server (daphne) in its own process, on the test database.

A separate process (not a fork) because torch's thread pool does not survive fork, and the server
runs the embedded inference worker. One server serves a whole test module (the model loads once);
each test still gets a clean database through ``transactional_db``, because the server's rows must
be committed to be seen across processes.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.processes import ROOT, process_env

START_TIMEOUT_S = 180  # a server starting on a loaded machine; returns as soon as it answers


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for_port(port: int, server: subprocess.Popen, log: Path) -> None:
    """Wait until the server answers a real page (URLs loaded, database reached), not only until it listens."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=30) as response:
                response.read()
            return
        except OSError:  # refused, reset, timed out, or an HTTP error while it starts
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                raise RuntimeError(f"The test server did not start: {log.read_text()[-3000:]}") from None
            time.sleep(0.1)


@contextlib.contextmanager
def studio_process(*, embedded_workers: bool = True, **env: str) -> Iterator[str]:
    """Run the studio (daphne, embedded workers unless told not to) with ``env`` added; yields its base URL."""
    with studio_server(embedded_workers=embedded_workers, **env) as (url, _server):
        yield url


@contextlib.contextmanager
def studio_server(*, embedded_workers: bool = True, **env: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """``studio_process``, yielding the server process too (to look at what it holds)."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="studio-live-") as folder:
        # The server's log goes to a file, not a pipe: a pipe nobody reads would fill up and block the server.
        log = Path(folder) / "server.log"
        with log.open("w") as output:
            server = subprocess.Popen(
                [sys.executable, "-m", "studio.server", "-b", "127.0.0.1", "-p", str(port), "studio.asgi:application"],
                cwd=ROOT, env=process_env(STUDIO_EMBEDDED_WORKERS="1" if embedded_workers else "0", **env),
                stdout=output, stderr=subprocess.STDOUT, text=True,
            )
            try:
                _wait_for_port(port, server, log)
                yield f"http://127.0.0.1:{port}", server
            finally:
                server.terminate()
                try:
                    server.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    server.kill()
                    server.wait()


@pytest.fixture(scope="module")
def live_studio_env() -> dict[str, str]:
    """Environment variables for the module's studio process; a test module overrides this fixture to add some."""
    return {}


@pytest.fixture(scope="package")
def live_media_root(tmp_path_factory) -> Path:
    """The media folder of the package's live studios, which the tests' own process uses too."""
    return tmp_path_factory.mktemp("live-media")


@pytest.fixture(scope="module")
def live_studio(django_db_setup, live_studio_env: dict[str, str], live_media_root: Path) -> Iterator[str]:
    """One studio process for the module's tests (after the test database exists); tests use ``live_server_url``."""
    with studio_process(MEDIA_ROOT=str(live_media_root), **live_studio_env) as url:
        yield url


@pytest.fixture
def live_server_url(live_studio: str, transactional_db, live_media_root: Path, settings) -> str:
    """The live studio's base URL, with a database the server can see (committed, emptied after the test).

    Files this process stores (a dataset made by a fixture, say) land where the server reads them.
    """
    settings.MEDIA_ROOT = str(live_media_root)
    return live_studio
