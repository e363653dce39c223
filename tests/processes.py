"""Helpers for tests that start real studio processes (daphne, workers) on the test database."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from django.db import connections

ROOT = Path(__file__).resolve().parents[1]
T = TypeVar("T")


def test_database_url() -> str:
    """The URL of the test database this session created, for another process to use."""
    db = connections["default"].settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def process_env(**extra: str) -> dict[str, str]:
    """The environment of a studio process that shares this test session's database and Redis."""
    inherited = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    return inherited | {
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": test_database_url(),
        "PYTHONPATH": str(ROOT),
    } | extra


def open_temporary_bytes(pid: int, folder: Path) -> int:
    """Bytes in the files under ``folder`` that process ``pid`` holds open (deleted temporary files included)."""
    total = 0
    fds = Path(f"/proc/{pid}/fd")
    for fd in list(fds.iterdir()) if fds.exists() else []:
        try:
            if os.readlink(fd).startswith(str(folder)):
                total += os.stat(fd).st_size
        except OSError:  # closed meanwhile
            continue
    return total


def manage_command(command: str, **env: str) -> subprocess.Popen:
    """``manage.py <command>`` in its own process on this session's database, its output piped."""
    return subprocess.Popen([sys.executable, str(ROOT / "manage.py"), command], cwd=ROOT, env=process_env(**env),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def processes_stop(processes: list[subprocess.Popen]) -> None:
    """Kill what is still running (a test may have killed some already) and reap them all."""
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


def wait_for(condition: Callable[[], T], what: str, *, timeout: float, every: float = 0.05) -> T:
    """``condition()``'s first truthy value; fails the test naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"Gave up waiting for {what}.")
        time.sleep(every)
    return value
