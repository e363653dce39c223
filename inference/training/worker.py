"""The training worker: claims queued training runs (rows) and fine-tunes them, one at a time.

It runs as ``manage.py training_worker`` (one per GPU; any number of hosts sharing PostgreSQL), or as
a thread inside the web process in the embedded default (inference/embedded.py).
"""

from __future__ import annotations

import threading

from django.conf import settings

from inference.jobs import LeasedJobWorker
from inference.models import TrainingRun
from inference.training import services


class TrainingWorker(LeasedJobWorker[TrainingRun]):
    kind = "training"

    def __init__(self, *, lease_seconds: float | None = None, poll_seconds: float | None = None,
                 name: str | None = None) -> None:
        super().__init__(
            lease_seconds=lease_seconds or settings.TRAINING_LEASE_SECONDS,
            poll_seconds=poll_seconds or settings.TRAINING_POLL_SECONDS,
            name=name,
        )

    def sweep(self) -> None:
        services.training_runs_requeue_expired()

    def claim(self) -> TrainingRun | None:
        return services.training_run_claim(worker=self.name, lease_seconds=self.lease_seconds)

    def renew(self, job: TrainingRun) -> bool:
        return services.training_run_heartbeat(run_id=job.pk, worker=self.name, lease_seconds=self.lease_seconds)

    def run(self, job: TrainingRun, lease_lost: threading.Event) -> None:
        from inference.training.pipeline import fine_tune  # torch loads with the first job, not at start-up

        fine_tune(job, worker=self.name, shutdown=self.shutdown, lease_lost=lease_lost)
