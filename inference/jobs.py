"""A worker for jobs that are database rows: claim one, hold its lease with a heartbeat, run it, repeat.

The base class owns the loop (sweeping expired leases, claiming, the heartbeat thread, polling,
error reporting, graceful shutdown); a subclass says how to sweep, claim and renew through services,
and implements ``run(job)``. Nothing here knows what a job is.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from typing import Any, Generic, TypeVar

from django.db import close_old_connections, connection

logger = logging.getLogger(__name__)

Job = TypeVar("Job")


def worker_name(kind: str) -> str:
    """A name no other worker has: host, process and a random part (a restarted process gets a new one)."""
    return f"{kind}@{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Heartbeat:
    """Renews a job's lease every ``interval_s`` in its own thread; sets ``lost`` when the lease is gone."""

    def __init__(self, renew, *, interval_s: float) -> None:
        self.renew, self.interval_s = renew, interval_s
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="lease-heartbeat", daemon=True)

    def __enter__(self) -> threading.Event:
        self._thread.start()
        return self.lost

    def __exit__(self, *exc_info: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _beat(self) -> None:
        try:
            while not self._stop.wait(self.interval_s):
                try:
                    if not self.renew():
                        self.lost.set()
                        return
                except Exception:  # the database may be back by the next beat; the lease has slack for it
                    logger.warning("Could not renew a lease", exc_info=True)
                    close_old_connections()
        finally:
            connection.close()  # this thread's own connection


class LeasedJobWorker(Generic[Job]):
    """Runs jobs one at a time until ``shutdown`` is set. Subclasses implement the four hooks."""

    kind = "worker"

    def __init__(self, *, lease_seconds: float, poll_seconds: float, name: str | None = None) -> None:
        self.name = name or worker_name(self.kind)
        self.lease_seconds, self.poll_seconds = lease_seconds, poll_seconds
        self.shutdown = threading.Event()

    # Hooks ---------------------------------------------------------------------------------

    def sweep(self) -> None:
        """Give jobs whose worker stopped renewing its lease back to the queue (any worker may do it)."""

    def claim(self) -> Job | None:
        raise NotImplementedError("Subclasses return the next job, leased to self.name, from `claim()`.")

    def renew(self, job: Job) -> bool:
        raise NotImplementedError("Subclasses extend the job's lease and return False once it is lost, in `renew()`.")

    def run(self, job: Job, lease_lost: threading.Event) -> None:
        raise NotImplementedError("Subclasses do the job in `run(job, lease_lost)`, calling a service.")

    # Loop ----------------------------------------------------------------------------------

    def run_once(self) -> bool:
        """Sweep, then claim and run one job; False when there was none."""
        close_old_connections()
        self.sweep()
        job = self.claim()
        if job is None:
            return False
        # A third of the lease between beats: two beats may fail before anyone presumes this worker dead.
        with Heartbeat(lambda: self.renew(job), interval_s=self.lease_seconds / 3) as lease_lost:
            self.run(job, lease_lost)
        return True

    def serve(self) -> None:
        """Work until ``shutdown`` is set: a job at a time, polling when the queue is empty."""
        logger.info("%s started", self.name)
        try:
            while not self.shutdown.is_set():
                try:
                    worked = self.run_once()
                except Exception:  # one broken job or a database blip must not end the worker
                    logger.exception("%s: a job failed outside its own error handling", self.name)
                    worked = False
                if not worked:
                    self.shutdown.wait(self.poll_seconds)
        finally:
            connection.close()
            logger.info("%s stopped", self.name)
