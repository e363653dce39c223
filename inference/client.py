"""A transport-free generation client: hand one request to a worker and iterate its events.

Every transport (the playground and widget sockets, the SSE and JSON views, the OpenAI endpoint)
iterates ``stream``; it yields the protocol's event dicts (``start``, ``queued``, ``sources``,
``token``…, then ``done {result, usage}`` or ``error``) and the transport only translates them.
Leaving the loop early (the client went away, Stop was pressed) cancels the generation on the worker.
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
from django.conf import settings

from inference import protocol
from products.services import generation_finish
from studio import timeline

logger = logging.getLogger(__name__)

ENGINE_STOPPED = "The model stopped answering in the middle of the text. Try again."


class GenerationStream:
    """One request handed to a worker; iterate ``events()``, call ``stop()`` to end it early.

    After ``stop()`` the stream still ends with the worker's ``done`` (finish reason ``cancelled``) and
    whatever text came before it, so the person sees where it stopped. Leaving ``events()`` early
    (client gone) also cancels the work on the worker.
    """

    def __init__(self, *, request: protocol.InferenceRequest, generation_id: int, channel_layer=None,
                 start_timeout_s: float | None = None) -> None:
        self.request, self.generation_id = request, generation_id
        self.layer = channel_layer or get_channel_layer()
        self.start_timeout_s = settings.INFERENCE_START_TIMEOUT_S if start_timeout_s is None else start_timeout_s
        self.request_id = uuid.uuid4().hex
        self.worker: str | None = None
        self.stopping = False

    async def stop(self) -> None:
        """Ask the worker to stop; before it has started, it is told as soon as it does."""
        self.stopping = True
        if self.worker is not None:
            with contextlib.suppress(Exception):
                await self.layer.send(self.worker, protocol.cancel_message(self.request_id))

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        """Yield ``{"event": ...}`` dicts for one generation, ending with a ``done`` or ``error`` event."""
        layer = self.layer
        # The layer's default prefix on purpose: channels-redis serves all of a process's "specific"
        # channels behind one receive lock, and a second prefix would starve behind it.
        reply = await layer.new_channel()
        timeline.mark(self.request_id, "request.send")
        await layer.send(protocol.REQUEST_CHANNEL, protocol.request_message(
            request_id=self.request_id, generation_id=self.generation_id, reply_channel=reply, request=self.request,
        ))
        finished = False
        text: list[str] = []  # what the person has read, kept if the worker goes silent mid-answer
        try:
            try:
                message = await asyncio.wait_for(layer.receive(reply), self.start_timeout_s)
            except TimeoutError:
                finished = True
                await database_sync_to_async(generation_finish)(
                    generation_id=self.generation_id, output="", finish_reason="error", tokens_in=0, tokens_out=0,
                    time_to_first_token_s=None, duration_s=self.start_timeout_s, error=protocol.ENGINE_UNAVAILABLE,
                )
                yield {"event": "error", "code": "engine_unavailable", "message": protocol.ENGINE_UNAVAILABLE}
                return
            while True:
                event = await self._event(message)
                if event is not None:
                    if event["event"] == "token":
                        text.append(event["text"])
                    finished = event["event"] in ("done", "error")
                    yield event
                    if finished:
                        return
                idle_timeout_s = settings.INFERENCE_IDLE_TIMEOUT_S
                try:
                    message = await asyncio.wait_for(layer.receive(reply), idle_timeout_s)
                except TimeoutError:
                    # The worker died or hung: record that here, or the row stays "running" for ever.
                    await database_sync_to_async(generation_finish)(
                        generation_id=self.generation_id, output="".join(text), finish_reason="error",
                        tokens_in=0, tokens_out=0, time_to_first_token_s=None, duration_s=idle_timeout_s,
                        error=ENGINE_STOPPED,
                    )
                    yield {"event": "error", "code": "engine_unavailable", "message": ENGINE_STOPPED}
                    return
        finally:
            if not finished:
                await _cancel(layer, self.worker, reply, self.request_id, self.start_timeout_s)

    async def _event(self, message: dict[str, Any]) -> dict[str, Any] | None:
        """The protocol event for one worker message (None: nothing to relay)."""
        kind = message.get("type")
        if message.get("request_id") != self.request_id:
            return None  # not ours (cannot happen on a fresh channel, but never relay a stranger's text)
        if kind == "generation.start":
            self.worker = message["worker_channel"]
            if self.stopping:  # Stop was pressed before the worker picked the request up
                await self.stop()
            return {"event": "start", "generation": self.generation_id}
        if kind == "generation.queued":
            return {"event": "queued", "position": message["position"]}
        if kind == "generation.sources":
            return {"event": "sources", "items": message["items"]}
        if kind == "generation.token":
            timeline.mark(self.request_id, "client.token")
            return {"event": "token", "text": message["text"]}
        if kind == "generation.done":
            return {"event": "done", "result": message["result"], "usage": message["usage"],
                    "generation": self.generation_id}
        if kind == "generation.error":
            return {"event": "error", "code": message["code"], "message": message["message"]}
        return None


def stream(*, request: protocol.InferenceRequest, generation_id: int, channel_layer=None,
           start_timeout_s: float | None = None) -> AsyncIterator[dict[str, Any]]:
    """The events of one generation (``GenerationStream.events``), for transports that never stop early."""
    return GenerationStream(request=request, generation_id=generation_id, channel_layer=channel_layer,
                            start_timeout_s=start_timeout_s).events()


async def collect(**kwargs: Any) -> dict[str, Any]:
    """Run ``stream`` to the end: the ``done`` event (with ``sources`` when there were any) or the ``error`` one."""
    sources: list[dict[str, Any]] | None = None
    async for event in stream(**kwargs):
        if event["event"] == "sources":
            sources = event["items"]
        elif event["event"] in ("done", "error"):
            return {**event, "sources": sources} if sources is not None else event
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
