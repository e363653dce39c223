"""The training worker: claims queued training runs (rows) from its queues and trains them, one at a time.

It runs as ``manage.py training_worker`` (one per GPU; any number of hosts sharing PostgreSQL), or as
threads inside the web process in the embedded default (inference/embedded.py): one per queue, so a short
run never waits behind a long fine-tune.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from django.conf import settings

from inference.jobs import LeasedJobWorker
from inference.models import TrainingRun
from inference.training import services


class TrainingWorker(LeasedJobWorker[TrainingRun]):
    kind = "training"
    model = TrainingRun

    def __init__(self, *, queues: Sequence[str] = services.TRAINING_QUEUES, lease_seconds: float | None = None,
                 poll_seconds: float | None = None, name: str | None = None) -> None:
        super().__init__(
            queues=queues,
            lease_seconds=lease_seconds or settings.TRAINING_LEASE_SECONDS,
            poll_seconds=poll_seconds or settings.TRAINING_POLL_SECONDS,
            max_attempts=settings.TRAINING_MAX_ATTEMPTS,
            name=name,
        )

    # Claim and sweep through the training services: the same job functions, plus the run page's log and frames.
    def sweep(self) -> None:
        services.training_runs_requeue_expired()  # reads TRAINING_MAX_ATTEMPTS at each sweep

    def claim(self) -> TrainingRun | None:
        return services.training_run_claim(worker=self.name, lease_seconds=self.lease_seconds, queues=self.queues)

    def run(self, job: TrainingRun, lease_lost: threading.Event) -> None:
        from inference.training.pipeline import fine_tune  # torch loads with the first job, not at start-up

        fine_tune(job, worker=self.name, shutdown=self.shutdown, lease_lost=lease_lost)
