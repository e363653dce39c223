"""The test database's flush between transactional tests, made to survive the live studios' workers.

pytest-django empties every table after a transactional test with one TRUNCATE. The live studio processes
(tests/live.py) keep their embedded workers polling the same database meanwhile, so that TRUNCATE can wait on a
poll's locks or lose a deadlock to it; PostgreSQL then aborts it and the next test's teardown errors with
"Database … couldn't be flushed" (seen once on CI, in tests/inference/test_remote_engine.py). The workers retry
their polls, so the flush retries too, and a lock timeout turns an endless wait into a retry that prints who held
the database, so a real leak (a connection left in a transaction) still shows by name.
"""

from __future__ import annotations

import sys
import time

from django.core.management.base import CommandError
from django.core.management.commands import flush
from django.db import connections

ATTEMPTS = 3
LOCK_TIMEOUT = "60s"  # a poll holds its locks for milliseconds; a minute means something is stuck


def _others(alias: str) -> list[tuple]:
    """The other sessions on the test database: what a blocked flush waits for."""
    with connections[alias].cursor() as cursor:
        cursor.execute(
            "SELECT pid, application_name, state, wait_event_type, xact_start, left(query, 160) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchall()


def _set_lock_timeout(alias: str, value: str) -> None:
    with connections[alias].cursor() as cursor:
        cursor.execute(f"SET lock_timeout = '{value}'")  # a constant of this module, never input


def install() -> None:
    original = flush.Command.handle

    def handle(self, **options):
        alias = options.get("database") or "default"
        if connections[alias].vendor != "postgresql":
            return original(self, **options)
        _set_lock_timeout(alias, LOCK_TIMEOUT)
        try:
            for attempt in range(1, ATTEMPTS + 1):
                try:
                    return original(self, **options)
                except CommandError as error:
                    sys.stderr.write(f"\nflush attempt {attempt} failed: {error.__cause__!r}\n"
                                     f"other sessions: {_others(alias)}\n")
                    if attempt == ATTEMPTS:
                        raise
                    time.sleep(1)
        finally:
            _set_lock_timeout(alias, "0")

    flush.Command.handle = handle
