"""The index worker: claims queued knowledge indexes (queue "index") and builds them, one at a time; and the
evaluation worker beside it: claims queued knowledge evaluations (queue "evaluate") and runs them.

Both run in one process, ``manage.py index_worker`` (any number, on any host sharing PostgreSQL), each in its
own thread, so an evaluation never waits behind an index build and there is no extra process to deploy: both
need the same MiniLM, loaded once per process. In the embedded default each is a thread inside the web process
(inference/embedded.py). Their own queues mean neither waits behind a fine-tune, and a training worker never
picks one up.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from django.conf import settings

from inference.jobs import Job, LeasedJobWorker
from inference.models import KnowledgeEvaluation, KnowledgeIndex


class _IndexProcessWorker(LeasedJobWorker[Job]):
    """The settings both workers of the index worker process share (its lease, poll and attempts)."""

    default_queues: tuple[str, ...]

    def __init__(self, *, queues: Sequence[str] | None = None, lease_seconds: float | None = None,
                 poll_seconds: float | None = None, name: str | None = None) -> None:
        super().__init__(
            queues=queues or self.default_queues,
            lease_seconds=lease_seconds or settings.INDEX_LEASE_SECONDS,
            poll_seconds=poll_seconds or settings.TRAINING_POLL_SECONDS,
            max_attempts=settings.TRAINING_MAX_ATTEMPTS,
            name=name,
        )


class IndexBuildWorker(_IndexProcessWorker[KnowledgeIndex]):
    kind = "index"
    model = KnowledgeIndex
    default_queues = (KnowledgeIndex.INDEX,)


    def failure_message(self, job: KnowledgeIndex) -> str:
        return (f"The index worker was lost on each of {job.attempts} attempts while reading these documents; "
                "ask for the index again, and tell your administrator if it keeps happening.")

    def run(self, job: KnowledgeIndex, lease_lost: threading.Event) -> None:
        from inference.knowledge.build import knowledge_index_build  # the embedder (torch) loads with a job

        job = KnowledgeIndex.objects.select_related("dataset_version__dataset").get(pk=job.pk)
        knowledge_index_build(index=job, worker=self.name, lease_lost=lease_lost, shutdown=self.shutdown)


class EvaluationWorker(_IndexProcessWorker[KnowledgeEvaluation]):
    kind = "evaluate"
    model = KnowledgeEvaluation
    default_queues = (KnowledgeEvaluation.EVALUATE,)


    def failure_message(self, job: KnowledgeEvaluation) -> str:
        return (f"The index worker was lost on each of {job.attempts} attempts while it evaluated these questions; "
                "start the evaluation again, and tell your administrator if it keeps happening.")

    def run(self, job: KnowledgeEvaluation, lease_lost: threading.Event) -> None:
        from inference.knowledge.evaluation import knowledge_evaluation_run  # the embedder (torch) loads with a job

        job = KnowledgeEvaluation.objects.select_related("index", "test_version__dataset").get(pk=job.pk)
        knowledge_evaluation_run(evaluation=job, worker=self.name, lease_lost=lease_lost, shutdown=self.shutdown)
