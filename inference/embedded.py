"""The embedded default: workers run inside the web process, on the server's own event loop.

The in-memory channel layer only connects coroutines of one process and one loop, so the
inference worker must start on the loop that serves the websockets; it starts with the first
connection (daphne does not send ASGI lifespan events). The training worker blocks (torch), so it
runs in daemon threads (one per queue, so a short job never waits behind a long fine-tune) and sends
its live events through that same loop; the index worker (Q&A knowledge bases), the evaluation worker (Q&A
retrieval measured on test questions), the label worker (files
labelled by a classifier) and the comparison worker (blind comparisons, whose requests go out on that loop
too) have a thread each.
studio/asgi.py loads this middleware by the dotted path in settings.EMBEDDED_WORKERS_MIDDLEWARE: the
web tier never imports the worker tier.
"""

from __future__ import annotations

import asyncio
import logging
import threading

from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)


class EmbeddedWorkers:
    """ASGI middleware that starts the in-process inference and training workers once."""

    def __init__(self, app) -> None:
        self.app = app
        self.worker_task: asyncio.Task | None = None
        self.training_threads: list[threading.Thread] | None = None

    async def __call__(self, scope, receive, send):
        if self.worker_task is None:
            from inference.worker import InferenceWorker

            self.worker_task = asyncio.get_running_loop().create_task(InferenceWorker(get_channel_layer()).run())
            self.worker_task.add_done_callback(self._report)
            logger.info("Embedded inference worker started")
        if self.training_threads is None:
            self.training_threads = self._start_training_workers(asyncio.get_running_loop())
        return await self.app(scope, receive, send)

    @staticmethod
    def _start_training_workers(loop: asyncio.AbstractEventLoop) -> list[threading.Thread]:
        from inference.comparisons import ComparisonWorker
        from inference.knowledge.worker import EvaluationWorker, IndexBuildWorker
        from inference.labelling.worker import LabellingWorker
        from inference.training.services import TRAINING_QUEUES
        from inference.training.worker import TrainingWorker
        from products.training.events import bind_event_loop

        bind_event_loop(loop)
        threads = []
        for queue in TRAINING_QUEUES:
            worker = TrainingWorker(queues=[queue])
            thread = threading.Thread(target=worker.serve, name=f"embedded-training-worker-{queue}", daemon=True)
            thread.start()
            threads.append(thread)
        # Blind comparisons send their requests through the server's loop (the in-memory layer lives there).
        workers = (("index", IndexBuildWorker()), ("evaluate", EvaluationWorker()), ("label", LabellingWorker()),
                   ("comparison", ComparisonWorker(loop=loop)))
        for name, worker in workers:
            thread = threading.Thread(target=worker.serve, name=f"embedded-{name}-worker", daemon=True)
            thread.start()
            threads.append(thread)
        logger.info("Embedded training, index, evaluation, label and comparison workers started (queues: %s, "
                    "index, evaluate, label, comparison)", ", ".join(TRAINING_QUEUES))
        return threads

    @staticmethod
    def _report(task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception():
            logger.error("The embedded inference worker stopped", exc_info=task.exception())
