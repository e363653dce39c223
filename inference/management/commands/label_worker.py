"""``manage.py label_worker``: label queued files with trained classifiers ("Label a file"), one at a time."""

from __future__ import annotations

from inference.labelling.worker import LabellingWorker
from inference.management.job_worker_command import JobWorkerCommand


class Command(JobWorkerCommand):
    help = "Run a label worker: claims queued “label a file” jobs from the database and labels every row."
    title = "Label worker"
    once_help = "Label at most one queued file, then exit."

    def make_worker(self, **options) -> LabellingWorker:
        return LabellingWorker()
