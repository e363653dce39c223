"""Leased jobs (inference/jobs.py) on their queues: one claim / heartbeat / sweep for every job model.

Training runs are the concrete job here; no model is loaded: the workers' ``run`` only waits or records.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from inference.jobs import LeasedJobWorker, Swept, job_claim, job_heartbeat, jobs_requeue_expired
from inference.models import TrainingRun

pytestmark = pytest.mark.django_db(transaction=True)

WAIT_S = 60  # a guard against a hang, never a measurement


class RecordingWorker(LeasedJobWorker[TrainingRun]):
    """A worker whose job is to hold the run until told to let go (a twenty-minute fine-tune, say)."""

    kind = "test"
    model = TrainingRun

    def __init__(self, *, queues: list[str], hold: threading.Event | None = None) -> None:
        super().__init__(queues=queues, lease_seconds=60, poll_seconds=0.05)
        self.hold = hold
        self.started = threading.Event()
        self.ran: list[int] = []

    def run(self, job: TrainingRun, lease_lost: threading.Event) -> None:
        self.ran.append(job.pk)
        self.started.set()
        if self.hold is not None:
            self.hold.wait(WAIT_S)
        TrainingRun.objects.filter(pk=job.pk).update(status=TrainingRun.Status.SUCCEEDED, worker="")


def _serve(worker: RecordingWorker) -> threading.Thread:
    def serve() -> None:
        try:
            worker.serve()
        finally:
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


def test_a_short_job_is_claimed_by_its_own_queues_worker_while_a_long_one_is_running(make_run):
    long_run = make_run()
    short_run = make_run()
    TrainingRun.objects.filter(pk=short_run.pk).update(queue=TrainingRun.SHORT)
    release_long = threading.Event()
    long_worker = RecordingWorker(queues=[TrainingRun.LONG], hold=release_long)
    short_worker = RecordingWorker(queues=[TrainingRun.SHORT])
    threads = [_serve(long_worker)]
    try:
        assert long_worker.started.wait(WAIT_S)
        threads.append(_serve(short_worker))
        assert short_worker.started.wait(WAIT_S)
        for _ in range(WAIT_S * 20):  # the short worker's run() marks it succeeded just after it starts
            if TrainingRun.objects.get(pk=short_run.pk).status == TrainingRun.Status.SUCCEEDED:
                break
            short_worker.shutdown.wait(0.05)
        long_row = TrainingRun.objects.get(pk=long_run.pk)
        assert (long_row.status, long_row.worker) == ("running", long_worker.name)  # still training
        assert (long_worker.ran, short_worker.ran) == ([long_run.pk], [short_run.pk])
    finally:
        release_long.set()
        for worker in (long_worker, short_worker):
            worker.shutdown.set()
        for thread in threads:
            thread.join(WAIT_S)
    assert TrainingRun.objects.get(pk=long_run.pk).status == "succeeded"


def test_a_worker_claims_only_from_its_queues_highest_priority_first_then_oldest(make_run):
    old, urgent, short = make_run(), make_run(), make_run()
    TrainingRun.objects.filter(pk=urgent.pk).update(priority=5)
    TrainingRun.objects.filter(pk=short.pk).update(queue=TrainingRun.SHORT)
    claims = [job_claim(TrainingRun, worker="w", queues=[TrainingRun.LONG], lease_seconds=60) for _ in range(3)]
    assert [job and job.pk for job in claims] == [urgent.pk, old.pk, None]
    assert TrainingRun.objects.get(pk=short.pk).status == "queued"
    both = job_claim(TrainingRun, worker="w", queues=[TrainingRun.LONG, TrainingRun.SHORT], lease_seconds=60)
    assert (both.pk, both.status, both.worker, both.attempts) == (short.pk, "running", "w", 1)


def test_a_worker_without_queues_is_refused_with_the_fix():
    with pytest.raises(ValueError, match=r"needs at least one queue to serve, e.g. queues=\['long'\]"):
        RecordingWorker(queues=[])
    with pytest.raises(ValueError, match=r"at least one queue: pass queues=\[...\]"):
        job_claim(TrainingRun, worker="w", queues=[], lease_seconds=60)


def test_the_sweep_requeues_fails_or_cancels_expired_jobs_and_tells_the_hook_which(make_run):
    requeued, spent, cancelled = make_run(), make_run(), make_run()
    for _ in range(3):
        job_claim(TrainingRun, worker="gone", queues=[TrainingRun.LONG], lease_seconds=60)
    TrainingRun.objects.filter(pk=spent.pk).update(attempts=3)
    TrainingRun.objects.filter(pk=cancelled.pk).update(cancel_requested=True)
    TrainingRun.objects.update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    seen: dict[int, Swept] = {}
    swept = jobs_requeue_expired(
        TrainingRun, max_attempts=3, failure_message=lambda job: f"lost {job.attempts} times",
        on_swept=lambda job, what: seen.__setitem__(job.pk, what),
    )
    assert sorted(job.pk for job in swept) == sorted(seen)
    assert seen == {requeued.pk: Swept.REQUEUED, spent.pk: Swept.FAILED, cancelled.pk: Swept.CANCELLED}
    rows = {row.pk: row for row in TrainingRun.objects.all()}
    assert (rows[requeued.pk].status, rows[requeued.pk].worker) == ("queued", "")
    assert (rows[spent.pk].status, rows[spent.pk].error) == ("failed", "lost 3 times")
    assert rows[cancelled.pk].status == "cancelled" and rows[cancelled.pk].finished_at is not None
    assert not job_heartbeat(TrainingRun, job_id=requeued.pk, worker="gone", lease_seconds=60)


def test_a_worker_purges_expired_logs_at_its_first_sweep_then_at_most_hourly(make_team):
    from products.models import Generation
    from products.services import product_create
    from tests.products.logs_helpers import log

    team = make_team("Keeper")
    team.log_retention_days = 30
    team.save()
    product = product_create(team=team, user=team.memberships.get().user, kind_id="copywriting",
                             template_id="ad-headlines")
    log(product, "Old", days_ago=31)
    kept = log(product, "Recent", days_ago=29)
    worker = RecordingWorker(queues=["long"])
    assert worker.run_once() is False  # no job, but the sweep ran
    assert list(Generation.objects.values_list("pk", flat=True)) == [kept.pk]
    log(product, "Old again", days_ago=31)
    worker.run_once()
    assert Generation.objects.count() == 2  # within the hour it does not purge again
