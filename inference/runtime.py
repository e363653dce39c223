"""One scheduler per (base model, adapter) in this worker process, created on first use."""

from __future__ import annotations

import threading
from pathlib import Path

from django.conf import settings

from inference.engines.local import LocalEngine
from inference.registry import model_path
from inference.scheduler import Scheduler

_schedulers: dict[tuple[str, str | None], Scheduler] = {}
_lock = threading.Lock()


def scheduler_for(model_id: str, adapter: str | None = None) -> Scheduler:
    """The shared scheduler for a model; requests for the same model share one running batch."""
    key = (model_id, adapter)
    with _lock:
        if key not in _schedulers:
            engine = LocalEngine(
                model_path(Path(settings.MODELS_DIR), model_id),
                device=settings.INFERENCE_DEVICE,
                adapter_dir=adapter,
            )
            _schedulers[key] = Scheduler(engine, max_batch_size=settings.INFERENCE_MAX_BATCH)
        return _schedulers[key]


def shutdown_all() -> None:
    with _lock:
        for scheduler in _schedulers.values():
            scheduler.shutdown()
        _schedulers.clear()
