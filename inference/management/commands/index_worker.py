"""``manage.py index_worker``: build queued knowledge indexes (Q&A knowledge bases), one at a time, until stopped."""

from __future__ import annotations

from inference.knowledge.worker import IndexBuildWorker
from inference.management.job_worker_command import JobWorkerCommand


class Command(JobWorkerCommand):
    help = "Run an index worker: claims queued knowledge indexes from the database, chunks and embeds them."
    title = "Index worker"
    once_help = "Build at most one queued index, then exit."

    def make_worker(self, **options) -> IndexBuildWorker:
        return IndexBuildWorker()
