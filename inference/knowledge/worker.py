"""The index worker: claims queued knowledge indexes (queue "index") and builds them, one at a time.

It runs as ``manage.py index_worker`` (any number, on any host sharing PostgreSQL), or as a thread inside the
web process in the embedded default (inference/embedded.py). Its own queue means an index build never waits
behind a fine-tune, and a training worker never picks one up.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from django.conf import settings

from inference.jobs import LeasedJobWorker
from inference.models import KnowledgeIndex


class IndexBuildWorker(LeasedJobWorker[KnowledgeIndex]):
    kind = "index"
    model = KnowledgeIndex

    def __init__(self, *, queues: Sequence[str] = (KnowledgeIndex.INDEX,), lease_seconds: float | None = None,
                 poll_seconds: float | None = None, name: str | None = None) -> None:
        super().__init__(
            queues=queues,
            lease_seconds=lease_seconds or settings.INDEX_LEASE_SECONDS,
            poll_seconds=poll_seconds or settings.TRAINING_POLL_SECONDS,
            max_attempts=settings.TRAINING_MAX_ATTEMPTS,
            name=name,
        )

    def failure_message(self, job: KnowledgeIndex) -> str:
        return (f"The index worker was lost on each of {job.attempts} attempts while reading these documents; "
                "ask for the index again, and tell your administrator if it keeps happening.")

    def run(self, job: KnowledgeIndex, lease_lost: threading.Event) -> None:
        from inference.knowledge.build import knowledge_index_build  # the embedder (torch) loads with a job

        job = KnowledgeIndex.objects.select_related("dataset_version__dataset").get(pk=job.pk)
        knowledge_index_build(index=job, worker=self.name, lease_lost=lease_lost, shutdown=self.shutdown)
