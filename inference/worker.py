"""The inference worker: takes generation requests off the channel layer and streams replies.

It runs as ``manage.py inference_worker`` (one per GPU host, any number of hosts sharing Redis),
or inside the web process in the embedded default. Tokens go straight to the requesting
consumer's channel, gathered into one frame at most every COALESCE_S seconds.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from channels.db import database_sync_to_async

from inference.protocol import COALESCE_S, REQUEST_CHANNEL, InferenceRequest, Task
from inference.runners import Queued, Result, RunContext, Runner, Sources, Token, empty_usage, get_runner
from inference.status import engine_status_loop
from products.services import generation_finish
from studio import timeline

logger = logging.getLogger(__name__)
FAILED = "The model failed while writing. Try again."


class InferenceWorker:
    """Serves requests of every task; ``runners`` replaces the registry's (protocol tests use a fake one)."""

    def __init__(self, channel_layer, *, runners: dict[Task, Runner] | None = None) -> None:
        self.layer = channel_layer
        self.runners = runners
        self.contexts: dict[str, RunContext] = {}
        self.tasks: set[asyncio.Task] = set()
        self.channel_name: str | None = None

    async def run(self) -> None:
        """Serve until cancelled; cancelling stops every live generation with reason `cancelled`."""
        # The default prefix on purpose: channels-redis holds one receive lock per process, and a
        # second process-local prefix would starve the consumers' replies behind it.
        self.channel_name = await self.layer.new_channel()
        logger.info("Inference worker listening on %s", REQUEST_CHANNEL)
        try:
            await asyncio.gather(self._serve(REQUEST_CHANNEL), self._serve(self.channel_name),
                                 engine_status_loop(self.channel_name))
        finally:
            for context in list(self.contexts.values()):
                context.cancel()
            if self.tasks:
                await asyncio.wait(self.tasks, timeout=10)

    async def _serve(self, channel: str) -> None:
        while True:
            message = await self.layer.receive(channel)
            kind = message.get("type")
            if kind == "generation.request":
                timeline.mark(message["request_id"], "worker.receive")
                task = asyncio.create_task(self.generate(message))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
            elif kind == "generation.cancel" and message.get("request_id") in self.contexts:
                self.contexts[message["request_id"]].cancel()

    def _runner(self, task: Task) -> Runner:
        if self.runners is not None:
            return self.runners[task]
        return get_runner(task)

    async def generate(self, message: dict[str, Any]) -> None:
        request_id, reply = message["request_id"], message["reply_channel"]
        # The start frame goes out while the runner gets going (scheduler hand-off, the remote engine's HTTP
        # request), not before it: a channel-layer hop less in the time to first token. Every later frame
        # waits for it (_relay), so the client still hears start first.
        start = asyncio.ensure_future(self.layer.send(reply, {"type": "generation.start", "request_id": request_id,
                                                              "worker_channel": self.channel_name}))
        start.add_done_callback(lambda _: timeline.mark(request_id, "worker.start_sent"))
        context = RunContext(request_id)
        self.contexts[request_id] = context
        started = time.monotonic()
        try:
            request = InferenceRequest.from_dict(message["request"])
            result = await self._relay(self._runner(request.task)(request, context), reply, request_id, start)
        except Exception as exc:  # a bad request or a broken runner must reach the person as words
            logger.exception("Generation %s failed", request_id)
            result = Result("error", {"text": ""}, empty_usage(duration_s=time.monotonic() - started,
                                                               finish_reason="error"), error=str(exc))
        finally:
            self.contexts.pop(request_id, None)
        await start  # sent before the last frame even when the runner failed at once (raises if it could not be)
        await self._finish(message, result)

    async def _relay(self, events, reply: str, request_id: str, start: asyncio.Future) -> Result:
        frames = TokenFrames(self.layer, reply, request_id)
        async for event in events:
            await start  # the start frame first, always (at once once it is sent)
            if isinstance(event, Token):
                await frames.add(event.text)
            elif isinstance(event, Queued):
                await self.layer.send(reply, {"type": "generation.queued", "request_id": request_id,
                                              "position": event.position})
            elif isinstance(event, Sources):
                await self.layer.send(reply, {"type": "generation.sources", "request_id": request_id,
                                              "items": event.items})
            elif isinstance(event, Result):
                await frames.close()
                return event
        raise RuntimeError("The runner ended without a result.")

    async def _finish(self, message: dict[str, Any], result: Result) -> None:
        usage = result.usage
        await database_sync_to_async(generation_finish)(
            generation_id=message["generation_id"], output=result.text, result=result.payload,
            finish_reason=result.finish_reason, tokens_in=usage.get("prompt_tokens", 0),
            tokens_out=usage.get("completion_tokens", 0),
            time_to_first_token_s=usage.get("time_to_first_token_s"), duration_s=usage.get("duration_s", 0.0),
            error=result.error or "",
        )
        if result.finish_reason == "error":
            reply = {"type": "generation.error", "code": "generation_failed", "message": result.error or FAILED}
        else:
            reply = {"type": "generation.done", "result": result.payload, "usage": usage}
        await self.layer.send(message["reply_channel"], {**reply, "request_id": message["request_id"]})


class TokenFrames:
    """Gathers token text into frames sent at most every COALESCE_S, in order, never stranded."""

    def __init__(self, layer, reply: str, request_id: str) -> None:
        self.layer, self.reply, self.request_id = layer, reply, request_id
        self.buffer: list[str] = []
        self.last_sent = 0.0  # the first token leaves at once: time to first token matters most
        self.timer: asyncio.Task | None = None
        self.lock = asyncio.Lock()  # two sends in flight could overtake each other on Redis

    async def add(self, text: str) -> None:
        self.buffer.append(text)
        wait = self.last_sent + COALESCE_S - time.monotonic()
        if wait <= 0:
            await self.flush()
        elif self.timer is None:
            self.timer = asyncio.create_task(self._flush_after(wait))

    async def _flush_after(self, delay: float) -> None:
        await asyncio.sleep(delay)
        self.timer = None
        await self.flush()

    async def flush(self) -> None:
        async with self.lock:
            text = "".join(self.buffer)
            self.buffer.clear()
            if text:
                if not self.last_sent:
                    timeline.mark(self.request_id, "worker.token_send")
                self.last_sent = time.monotonic()
                await self.layer.send(self.reply, {"type": "generation.token", "request_id": self.request_id,
                                                   "text": text})

    async def close(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        await self.flush()
