"""The embedded default: workers run inside the web process, on the server's own event loop.

The in-memory channel layer only connects coroutines of one process and one loop, so the
inference worker must start on the loop that serves the websockets; it starts with the first
connection (daphne does not send ASGI lifespan events). The training worker blocks (torch), so it
runs in a daemon thread and sends its live events through that same loop.
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
        self.training_thread: threading.Thread | None = None

    async def __call__(self, scope, receive, send):
        if self.worker_task is None:
            from inference.worker import InferenceWorker

            self.worker_task = asyncio.get_running_loop().create_task(InferenceWorker(get_channel_layer()).run())
            self.worker_task.add_done_callback(self._report)
            logger.info("Embedded inference worker started")
        if self.training_thread is None:
            self.training_thread = self._start_training_worker(asyncio.get_running_loop())
        return await self.app(scope, receive, send)

    @staticmethod
    def _start_training_worker(loop: asyncio.AbstractEventLoop) -> threading.Thread:
        from inference.training.worker import TrainingWorker
        from products.training.events import bind_event_loop

        bind_event_loop(loop)
        thread = threading.Thread(target=TrainingWorker().serve, name="embedded-training-worker", daemon=True)
        thread.start()
        logger.info("Embedded training worker started")
        return thread

    @staticmethod
    def _report(task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception():
            logger.error("The embedded inference worker stopped", exc_info=task.exception())
