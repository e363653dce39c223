"""Helpers for tests that start real studio processes (daphne, workers) on the test database."""

from __future__ import annotations

import os
from pathlib import Path

from django.db import connections

ROOT = Path(__file__).resolve().parents[1]


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
