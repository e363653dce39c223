"""Live events of training runs, sent over the channel layer after the rows they describe are committed.

The database row is the truth; these frames only tell open pages that it changed (Channels delivers
at most once, so a page that misses one catches up from the snapshot it gets on (re)connecting).

Frames (one JSON object each) on the run's group ``training_run.<id>``:
``{"event": "snapshot", ...}`` (sent by the consumer on connect), ``{"event": "status", ...}``,
``{"event": "progress", ...}`` with new loss points and log lines, and ``{"event": "finished", ...}``.
The team's dashboard group gets ``{"event": "training.finished", ...}``.

Both tiers publish: the web tier when a person queues or cancels a run (products/training/services.py),
the worker as it trains (inference/training/services.py). No torch here.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import TYPE_CHECKING, Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from studio.consumers import team_group_name

if TYPE_CHECKING:
    from inference.models import TrainingLogEntry, TrainingRun

logger = logging.getLogger(__name__)

_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


def run_group_name(run_id: int) -> str:
    return f"training_run.{run_id}"


def bind_event_loop(loop: asyncio.AbstractEventLoop | None) -> None:
    """Send events through ``loop`` (the server's, in the embedded default).

    The in-memory channel layer only connects coroutines of one loop, so a training thread inside the
    web process must hand its sends to the loop that serves the websockets.
    """
    global _loop
    with _loop_lock:
        _loop = loop


def publish_after_commit(group: str, message: dict[str, Any]) -> None:
    """Send ``message`` to ``group`` once the surrounding transaction commits (at once outside one)."""
    transaction.on_commit(lambda: _send(group, message))


def _send(group: str, message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        loop = _loop
        if loop is not None and loop.is_running() and not _on_loop(loop):
            asyncio.run_coroutine_threadsafe(layer.group_send(group, message), loop).result(timeout=10)
        else:
            async_to_sync(layer.group_send)(group, message)
    except Exception:  # a live page missing a frame must never fail the training step that sent it
        logger.warning("Could not send %s to %s", message.get("type"), group, exc_info=True)


def _on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def publish_run_frame(run_id: int, frame: dict[str, Any]) -> None:
    """A frame for the run's page; the message type is ``training.<event>`` (the consumer's handler name)."""
    publish_after_commit(run_group_name(run_id), {"type": f"training.{frame['event']}", "frame": frame})


def publish_team_event(team_id: int, payload: dict[str, Any]) -> None:
    publish_after_commit(team_group_name(team_id), {"type": "team.event", "payload": payload})


def run_state(run: TrainingRun) -> dict[str, Any]:
    """What every frame about a run carries: enough for a page to redraw its status line."""
    return {
        "run": run.pk,
        "status": run.status,
        "status_label": run.get_status_display(),
        "step": run.step,
        "total_steps": run.total_steps,
        "percent": run.percent,
        "train_loss": run.train_loss,
        "validation_loss": run.validation_loss,
        "eta_seconds": run.eta_seconds,
        "checkpoint_step": run.checkpoint_step,
        "device": run.device,
        "attempts": run.attempts,
        "cancel_requested": run.cancel_requested,
        "error": run.error,
    }


def log_frame(entry: TrainingLogEntry) -> dict[str, Any]:
    return {"level": entry.level, "message": entry.message, "time": entry.created_at.isoformat()}


def publish_run_status(run: TrainingRun, *entries: TrainingLogEntry) -> None:
    publish_run_frame(run.pk, {"event": "status", **run_state(run), "logs": [log_frame(e) for e in entries]})


def publish_run_finished(run: TrainingRun, *entries: TrainingLogEntry) -> None:
    publish_run_frame(run.pk, {"event": "finished", **run_state(run), "logs": [log_frame(e) for e in entries]})
    publish_team_event(run.team_id, {
        "event": "training.finished", "run": run.pk, "status": run.status, "status_label": run.get_status_display(),
        "product": run.product.name, "url": run.get_absolute_url(),
    })
