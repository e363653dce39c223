"""``manage.py comparison_worker``: write queued blind comparisons' outputs, one comparison at a time, until stopped."""

from __future__ import annotations

from inference.comparisons import ComparisonWorker
from inference.management.job_worker_command import JobWorkerCommand


class Command(JobWorkerCommand):
    help = ("Run a comparison worker: claims queued blind comparisons from the database and has an inference "
            "worker write both versions' outputs for each input (needs REDIS_URL, like the inference worker).")
    title = "Comparison worker"
    stopping = "Stopping after the current answer ..."
    once_help = "Work on at most one queued comparison, then exit."

    def make_worker(self, **options) -> ComparisonWorker:
        return ComparisonWorker()
