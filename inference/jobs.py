"""Jobs that are database rows (``LeasedJob`` models): one claim / heartbeat / sweep, and the worker loop.

The functions take the concrete model class (``job_claim(TrainingRun, ...)``), so every kind of job (training
runs, index builds, batch labelling) is leased, renewed and swept the same way. ``LeasedJobWorker`` owns the
loop (sweeping expired leases, claiming, the heartbeat thread, polling, error reporting, graceful shutdown)
over a list of queues; a subclass implements ``run(job)`` by calling a service. Nothing here knows what a
job does.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from django.db import close_old_connections, connection, transaction
from django.utils import timezone

if TYPE_CHECKING:
    from inference.models import LeasedJob

logger = logging.getLogger(__name__)

#: Seconds between two purges of expired logs by one worker (teams' "keep logs N days"; any worker may purge).
LOGS_PURGE_INTERVAL_S = 3600.0

J = TypeVar("J", bound="LeasedJob")
Job = TypeVar("Job", bound="LeasedJob")


# The one claim / renew / sweep implementation, for every concrete LeasedJob model -------------------


class Swept(StrEnum):
    """What a sweep did with a job whose lease ran out."""

    REQUEUED = "requeued"  # back in its queue, to resume where it can
    FAILED = "failed"  # out of attempts
    CANCELLED = "cancelled"  # a cancel was asked for while its worker was gone


def _lease_until(lease_seconds: float) -> datetime:
    return timezone.now() + timedelta(seconds=lease_seconds)


def job_claim(model: type[J], *, worker: str, queues: Sequence[str], lease_seconds: float) -> J | None:
    """Lease the next queued job of ``queues`` to ``worker`` (highest priority, then oldest), or None."""
    if not queues:
        raise ValueError("A worker must serve at least one queue: pass queues=[...] (e.g. ['long', 'short']).")
    with transaction.atomic():
        # skip_locked: two workers polling at the same moment would otherwise both read the same next row
        # and both start it (a double run); the second skips the row the first has locked and takes the next.
        job = (
            model.objects.select_for_update(skip_locked=True)
            .filter(status=model.Status.QUEUED, queue__in=list(queues))
            .order_by("-priority", "created_at", "pk").first()
        )
        if job is None:
            return None
        now = timezone.now()
        job.status, job.worker, job.attempts = model.Status.RUNNING, worker, job.attempts + 1
        job.lease_expires_at, job.heartbeat_at = _lease_until(lease_seconds), now
        job.started_at = job.started_at or now
        job.save()
    return job


def job_heartbeat(model: type[LeasedJob], *, job_id: int, worker: str, lease_seconds: float) -> bool:
    """Renew ``worker``'s lease on the job; False when it is no longer theirs (they must stop at once)."""
    # One conditional UPDATE, no lock: a sweep that re-queued the job has already cleared `worker`.
    return bool(
        model.objects.filter(pk=job_id, status=model.Status.RUNNING, worker=worker)
        .update(lease_expires_at=_lease_until(lease_seconds), heartbeat_at=timezone.now())
    )


def job_held(model: type[J], *, job_id: int, worker: str, select_related: Sequence[str] = ()) -> J | None:
    """The job, locked for this transaction, if ``worker`` still holds it; None once its lease went elsewhere."""
    return (
        model.objects.select_for_update(of=("self",)).select_related(*select_related)
        .filter(pk=job_id, status=model.Status.RUNNING, worker=worker).first()
    )


def job_release(model: type[J], *, job_id: int, worker: str, select_related: Sequence[str] = ()) -> J | None:
    """Give a job back to its queue because its worker is shutting down; it does not count as an attempt."""
    with transaction.atomic():
        job = job_held(model, job_id=job_id, worker=worker, select_related=select_related)
        if job is None:
            return None
        job.status, job.worker, job.lease_expires_at = model.Status.QUEUED, "", None
        job.attempts = max(job.attempts - 1, 0)
        job.save()
    return job


def job_finish(
    model: type[J], *, job_id: int, worker: str, status: str, error: str | None = None,
    before: Callable[[J], object] | None = None, **fields: Any,
) -> J | None:
    """End a job ``worker`` still holds: ``status`` (succeeded / failed), ``error``, finished now, lease cleared.

    ``before(job)`` runs first under the row lock (a failed job's clean-up: delete its partial output); ``fields``
    are set last, so they may also set ``finished_at``. None, with nothing written, when the lease went elsewhere:
    whoever holds the job now owns its ending.
    """
    with transaction.atomic():
        job = job_held(model, job_id=job_id, worker=worker)
        if job is None:
            return None
        if before is not None:
            before(job)
        job.status, job.finished_at = status, timezone.now()
        if error is not None:
            job.error = error
        job.worker, job.lease_expires_at = "", None
        for name, value in fields.items():
            setattr(job, name, value)
        job.save()
    return job


def jobs_requeue_expired(
    model: type[J], *, max_attempts: int, failure_message: Callable[[J], str],
    on_swept: Callable[[J, Swept], object] | None = None, select_related: Sequence[str] = (),
) -> list[J]:
    """Re-queue the jobs whose worker stopped renewing its lease; fail those out of attempts (any worker may sweep).

    ``failure_message(job)`` is the plain-language reason a job that ran out of attempts gets;
    ``on_swept(job, what)`` runs inside the transaction for each one (to log it and publish it after commit).
    """
    with transaction.atomic():
        # skip_locked: a job another worker's sweep (or its own worker's last write) holds is theirs to settle.
        expired = list(
            model.objects.select_for_update(skip_locked=True, of=("self",)).select_related(*select_related)
            .filter(status=model.Status.RUNNING, lease_expires_at__lt=timezone.now())
        )
        for job in expired:
            job.worker, job.lease_expires_at = "", None
            if job.cancel_requested:
                job.status, job.finished_at, what = model.Status.CANCELLED, timezone.now(), Swept.CANCELLED
            elif job.attempts >= max_attempts:
                job.status, job.finished_at, what = model.Status.FAILED, timezone.now(), Swept.FAILED
                job.error = failure_message(job)
            else:
                job.status, what = model.Status.QUEUED, Swept.REQUEUED
            job.save()
            if on_swept is not None:
                on_swept(job, what)
    return expired


# The worker loop ---------------------------------------------------------------------------------


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
    """Runs jobs of ``model`` from ``queues``, one at a time, until ``shutdown`` is set.

    Subclasses set ``model`` and implement ``run(job, lease_lost)``; they override ``claim``/``sweep`` only to
    add what their job's page shows (a log line, a live frame), still through the functions above. A short
    queue gets a worker of its own, so its jobs never wait behind a long one.
    """

    kind = "worker"
    model: type[Job]

    def __init__(self, *, queues: Sequence[str], lease_seconds: float, poll_seconds: float, max_attempts: int = 3,
                 name: str | None = None) -> None:
        if not queues:
            raise ValueError(f"A {self.kind} worker needs at least one queue to serve, e.g. queues=['long'].")
        self.name = name or worker_name(self.kind)
        self.queues = list(queues)
        self.lease_seconds, self.poll_seconds, self.max_attempts = lease_seconds, poll_seconds, max_attempts
        self.shutdown = threading.Event()
        self._logs_purged_at: float | None = None

    # Hooks ---------------------------------------------------------------------------------

    def sweep(self) -> None:
        """Give jobs whose worker stopped renewing its lease back to the queue (any worker may do it)."""
        jobs_requeue_expired(self.model, max_attempts=self.max_attempts, failure_message=self.failure_message)

    def failure_message(self, job: Job) -> str:
        """Why ``job`` failed after its worker was lost on every attempt, in words its owner can act on."""
        return f"The worker was lost on each of {job.attempts} attempts; start the job again."

    def claim(self) -> Job | None:
        """The next job of this worker's queues, leased to it, or None."""
        return job_claim(self.model, worker=self.name, queues=self.queues, lease_seconds=self.lease_seconds)

    def renew(self, job: Job) -> bool:
        """Extend the lease; False once it is lost (the job went back to the queue)."""
        return job_heartbeat(self.model, job_id=job.pk, worker=self.name, lease_seconds=self.lease_seconds)

    def run(self, job: Job, lease_lost: threading.Event) -> None:
        raise NotImplementedError("Subclasses do the job in `run(job, lease_lost)`, calling a service.")

    def purge_logs_when_due(self) -> None:
        """Once an hour, delete logs older than their team keeps them (the periodic half of manage.py purge_logs)."""
        now = time.monotonic()
        if self._logs_purged_at is not None and now - self._logs_purged_at < LOGS_PURGE_INTERVAL_S:
            return
        self._logs_purged_at = now
        from products.logs.retention import logs_purge

        try:
            logs_purge()
        except Exception:  # a purge that fails now is tried again in an hour; the jobs must go on
            logger.exception("%s: purging expired logs failed", self.name)

    # Loop ----------------------------------------------------------------------------------

    def run_once(self) -> bool:
        """Sweep, then claim and run one job; False when there was none."""
        close_old_connections()
        self.sweep()
        self.purge_logs_when_due()
        job = self.claim()
        if job is None:
            return False
        # A third of the lease between beats: two beats may fail before anyone presumes this worker dead.
        with Heartbeat(lambda: self.renew(job), interval_s=self.lease_seconds / 3) as lease_lost:
            self.run(job, lease_lost)
        return True

    def serve(self) -> None:
        """Work until ``shutdown`` is set: a job at a time, polling when the queue is empty."""
        logger.info("%s started (queues: %s)", self.name, ", ".join(self.queues))
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
