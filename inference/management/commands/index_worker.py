"""``manage.py index_worker``: build queued knowledge indexes (Q&A knowledge bases), one at a time, until stopped."""

from __future__ import annotations

from inference.knowledge.worker import IndexBuildWorker
from inference.management.worker_command import WorkerCommand


class Command(WorkerCommand):
    help = "Run an index worker: claims queued knowledge indexes from the database, chunks and embeds them."
    label = "Index worker"
    stopping = "Stopping after the current batch ..."
    once_help = "Build at most one queued index, then exit."

    def make_worker(self) -> IndexBuildWorker:
        return IndexBuildWorker()
