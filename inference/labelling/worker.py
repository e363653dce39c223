"""The label worker: claims queued "label a file" jobs (queue "label") and labels them, one at a time.

It runs as ``manage.py label_worker`` (any number, on any host sharing PostgreSQL), or as a thread inside the
web process in the embedded default (inference/embedded.py). Its own queue means a big file never waits
behind a fine-tune or an index build.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from django.conf import settings

from inference.jobs import LeasedJobWorker
from inference.models import LabellingJob


class LabellingWorker(LeasedJobWorker[LabellingJob]):
    kind = "label"
    model = LabellingJob

    def __init__(self, *, queues: Sequence[str] = (LabellingJob.LABEL,), lease_seconds: float | None = None,
                 poll_seconds: float | None = None, name: str | None = None) -> None:
        super().__init__(
            queues=queues,
            lease_seconds=lease_seconds or settings.LABEL_LEASE_SECONDS,
            poll_seconds=poll_seconds or settings.TRAINING_POLL_SECONDS,
            max_attempts=settings.TRAINING_MAX_ATTEMPTS,
            name=name,
        )

    def failure_message(self, job: LabellingJob) -> str:
        return (f"The label worker was lost on each of {job.attempts} attempts while labelling this file; start "
                "it again, and tell your administrator if it keeps happening.")

    def run(self, job: LabellingJob, lease_lost: threading.Event) -> None:
        from inference.labelling.job import labelling_job_run  # the classifier (torch) loads with a job

        job = LabellingJob.objects.select_related(
            "dataset_version__dataset", "version__fine_tuned_artifact").get(pk=job.pk)
        labelling_job_run(job=job, worker=self.name, lease_lost=lease_lost, shutdown=self.shutdown)
