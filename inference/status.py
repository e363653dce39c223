"""What each inference worker's engine is doing, published to the cache for the web tier to show.

A web process never holds an engine (separate workers in production), so each worker writes its
``runtime.engine_status()`` under its own key every few seconds, and the list of workers under one
more key; a worker that stops publishing drops off when its entry expires. The web tier reads them
with ``inference.selectors.engine_status_list``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from django.core.cache import cache

from inference.selectors import ENGINE_STATUS_WORKERS_KEY as WORKERS_KEY
from inference.selectors import STATUS_STALE_AFTER_S as STALE_AFTER_S
from inference.selectors import engine_status_key as _key

logger = logging.getLogger(__name__)
PUBLISH_EVERY_S = STALE_AFTER_S / 3


def engine_status_publish(*, worker: str, status: dict[str, Any], now: float | None = None) -> None:
    """Record one worker's engine status (runtime.engine_status()) for STALE_AFTER_S seconds."""
    now = time.time() if now is None else now
    cache.set(_key(worker), {**status, "worker": worker, "at": now}, timeout=int(STALE_AFTER_S))
    # A read-modify-write: two workers publishing at once can drop one name for one round; the next
    # round puts it back. Names are few (one per worker process).
    workers = {name: at for name, at in (cache.get(WORKERS_KEY) or {}).items() if now - at < STALE_AFTER_S}
    workers[worker] = now
    cache.set(WORKERS_KEY, workers, timeout=int(STALE_AFTER_S) * 4)


async def engine_status_loop(worker: str) -> None:
    """Publish this process's engine status until cancelled."""
    from asgiref.sync import sync_to_async

    from inference.runtime import engine_status

    while True:
        try:
            await sync_to_async(engine_status_publish, thread_sensitive=False)(worker=worker, status=engine_status())
        except Exception:  # a cache outage must not stop the worker serving generations
            logger.warning("Could not publish the engine status", exc_info=True)
        await asyncio.sleep(PUBLISH_EVERY_S)
