"""A transport-free generation client: hand one request to a worker and iterate its events.

The SSE view and the OpenAI-compatible endpoint iterate ``stream_generation``; it yields the same
event dicts the websockets send (``start``, ``token``…, then ``done`` or ``error``). Leaving the
loop early (the HTTP client went away) cancels the generation on the worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from inference import protocol
from products.services import generation_finish

logger = logging.getLogger(__name__)

# Longest silence between two events of a running generation before the client gives up on the worker
# (the worker itself stops a sequence after its params' max_seconds, 90 s by default).
IDLE_TIMEOUT_S = 120.0
ENGINE_STOPPED = "The model stopped answering in the middle of the text. Try again."


async def stream_generation(
    *, generation_id: int, model: str, messages: list[dict], params: dict[str, Any],
    adapter: str | None = None, channel_layer=None, start_timeout_s: float | None = None,
) -> AsyncIterator[dict[str, Any]]:
    """Yield ``{"event": ...}`` dicts for one generation, ending with a ``done`` or ``error`` event."""
    layer = channel_layer or get_channel_layer()
    start_timeout_s = protocol.START_TIMEOUT_S if start_timeout_s is None else start_timeout_s
    # The layer's default prefix on purpose: channels-redis serves all of a process's "specific"
    # channels behind one receive lock, and a second prefix would starve behind it.
    reply = await layer.new_channel()
    request_id = uuid.uuid4().hex
    await layer.send(protocol.REQUEST_CHANNEL, protocol.request_message(
        request_id=request_id, generation_id=generation_id, reply_channel=reply, model=model,
        adapter=adapter, messages=messages, params=params,
    ))
    worker: str | None = None
    finished = False
    try:
        try:
            message = await asyncio.wait_for(layer.receive(reply), start_timeout_s)
        except TimeoutError:
            finished = True
            await database_sync_to_async(generation_finish)(
                generation_id=generation_id, output="", finish_reason="error", tokens_in=0, tokens_out=0,
                time_to_first_token_s=None, duration_s=start_timeout_s, error=protocol.ENGINE_UNAVAILABLE,
            )
            yield {"event": "error", "code": "engine_unavailable", "message": protocol.ENGINE_UNAVAILABLE}
            return
        while True:
            kind = message.get("type")
            if message.get("request_id") != request_id:
                pass  # not ours (cannot happen on a fresh channel, but never relay a stranger's text)
            elif kind == "generation.start":
                worker = message["worker_channel"]
                yield {"event": "start", "generation": generation_id}
            elif kind == "generation.token":
                yield {"event": "token", "text": message["text"]}
            elif kind == "generation.done":
                finished = True
                yield {"event": "done", "usage": message["usage"], "generation": generation_id}
                return
            elif kind == "generation.error":
                finished = True
                yield {"event": "error", "code": message["code"], "message": message["message"]}
                return
            try:
                message = await asyncio.wait_for(layer.receive(reply), IDLE_TIMEOUT_S)
            except TimeoutError:
                yield {"event": "error", "code": "engine_unavailable", "message": ENGINE_STOPPED}
                return
    finally:
        if not finished:
            await _cancel(layer, worker, reply, request_id, start_timeout_s)


async def collect_generation(**kwargs: Any) -> dict[str, Any]:
    """Run ``stream_generation`` to the end: ``{"text", "generation", "usage"}`` or ``{"error": event}``."""
    text: list[str] = []
    async for event in stream_generation(**kwargs):
        if event["event"] == "token":
            text.append(event["text"])
        elif event["event"] == "done":
            return {"text": "".join(text), "generation": event["generation"], "usage": event["usage"]}
        elif event["event"] == "error":
            return {"error": event, "text": "".join(text)}
    raise RuntimeError("the generation stream ended without a final event")


async def _cancel(layer, worker: str | None, reply: str, request_id: str, start_timeout_s: float) -> None:
    """Tell the worker to stop; if it has not started yet, wait (in the background) until it does."""
    if worker is not None:
        with contextlib.suppress(Exception):
            await layer.send(worker, protocol.cancel_message(request_id))
        return
    task = asyncio.get_running_loop().create_task(_cancel_when_started(layer, reply, request_id, start_timeout_s))
    _background.add(task)
    task.add_done_callback(_background.discard)


_background: set[asyncio.Task] = set()


async def _cancel_when_started(layer, reply: str, request_id: str, start_timeout_s: float) -> None:
    try:
        message = await asyncio.wait_for(layer.receive(reply), start_timeout_s)
    except (TimeoutError, asyncio.CancelledError):
        return
    if message.get("type") == "generation.start":
        await layer.send(message["worker_channel"], protocol.cancel_message(request_id))
