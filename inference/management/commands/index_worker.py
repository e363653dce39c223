"""``manage.py index_worker``: build queued knowledge indexes (Q&A knowledge bases) and run queued knowledge
evaluations, one of each at a time (two threads), until stopped."""

from __future__ import annotations

from inference.jobs import LeasedJobWorker
from inference.knowledge.worker import EvaluationWorker, IndexBuildWorker
from inference.management.job_worker_command import JobWorkerCommand


class Command(JobWorkerCommand):
    help = ("Run an index worker: claims queued knowledge indexes from the database, chunks and embeds them; a "
            "second thread runs queued evaluations of Q&A assistants on test questions.")
    title = "Index worker"
    once_help = "Build at most one queued index and run at most one queued evaluation, then exit."

    def make_worker(self, **options) -> IndexBuildWorker:
        return IndexBuildWorker()

    def make_workers(self, **options) -> list[LeasedJobWorker]:
        return [IndexBuildWorker(), EvaluationWorker()]

    def started_line(self, worker: LeasedJobWorker) -> str:
        what = "evaluations" if isinstance(worker, EvaluationWorker) else "indexes"
        return (f"{self.title} {worker.name} started for {what} (lease {worker.lease_seconds:g} s, queues: "
                f"{', '.join(worker.queues)}). Ctrl+C stops it.")
