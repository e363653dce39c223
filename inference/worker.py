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

from inference.engines.base import GenerationParams, GenerationRequest, GenerationResult, TokenEvent
from inference.protocol import COALESCE_S, REQUEST_CHANNEL
from inference.runtime import scheduler_for
from inference.scheduler import StreamHandle
from products.services import generation_finish

logger = logging.getLogger(__name__)
PARAM_NAMES = set(GenerationParams.__dataclass_fields__)


class InferenceWorker:
    def __init__(self, channel_layer, *, scheduler_factory=scheduler_for) -> None:
        self.layer = channel_layer
        self.scheduler_factory = scheduler_factory
        self.handles: dict[str, StreamHandle] = {}
        self.tasks: set[asyncio.Task] = set()
        self.channel_name: str | None = None

    async def run(self) -> None:
        """Serve until cancelled; cancelling stops every live generation with reason `cancelled`."""
        # The default prefix on purpose: channels-redis holds one receive lock per process, and a
        # second process-local prefix would starve the consumers' replies behind it.
        self.channel_name = await self.layer.new_channel()
        logger.info("Inference worker listening on %s", REQUEST_CHANNEL)
        try:
            await asyncio.gather(self._serve(REQUEST_CHANNEL), self._serve(self.channel_name))
        finally:
            for handle in list(self.handles.values()):
                handle.cancel()
            if self.tasks:
                await asyncio.wait(self.tasks, timeout=10)

    async def _serve(self, channel: str) -> None:
        while True:
            message = await self.layer.receive(channel)
            kind = message.get("type")
            if kind == "generation.request":
                task = asyncio.create_task(self.generate(message))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
            elif kind == "generation.cancel" and message.get("request_id") in self.handles:
                self.handles[message["request_id"]].cancel()

    async def generate(self, message: dict[str, Any]) -> None:
        request_id, reply = message["request_id"], message["reply_channel"]
        await self.layer.send(reply, {"type": "generation.start", "request_id": request_id,
                                      "worker_channel": self.channel_name})
        started = time.monotonic()
        try:
            params = GenerationParams(**{k: v for k, v in message["params"].items() if k in PARAM_NAMES})
            request = GenerationRequest(messages=message["messages"], params=params, request_id=request_id)
            scheduler = await asyncio.to_thread(self.scheduler_factory, message["model"], message.get("adapter"))
            handle = scheduler.submit(request)
        except Exception as exc:  # a bad model id or a broken install must reach the person as words
            logger.exception("Could not start generation %s", request_id)
            result = GenerationResult("error", "", 0, 0, None, time.monotonic() - started, str(exc))
            await self._finish(message, result)
            return
        self.handles[request_id] = handle
        try:
            result = await self._stream(handle, reply, request_id)
        finally:
            self.handles.pop(request_id, None)
        await self._finish(message, result)

    async def _stream(self, handle: StreamHandle, reply: str, request_id: str) -> GenerationResult:
        frames = TokenFrames(self.layer, reply, request_id)
        async for event in handle:
            if isinstance(event, TokenEvent):
                await frames.add(event.text)
            else:
                await frames.close()
                return event
        raise RuntimeError("stream ended without a result")

    async def _finish(self, message: dict[str, Any], result: GenerationResult) -> None:
        await database_sync_to_async(generation_finish)(
            generation_id=message["generation_id"], output=result.text, finish_reason=str(result.finish_reason),
            tokens_in=result.prompt_tokens, tokens_out=result.completion_tokens,
            time_to_first_token_s=result.time_to_first_token_s, duration_s=result.duration_s,
            error=result.error_message or "",
        )
        if str(result.finish_reason) == "error":
            reply = {"type": "generation.error", "code": "generation_failed",
                     "message": result.error_message or "The model failed while writing. Try again."}
        else:
            reply = {"type": "generation.done", "usage": result.usage(), "text": result.text}
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
                self.last_sent = time.monotonic()
                await self.layer.send(self.reply, {"type": "generation.token", "request_id": self.request_id,
                                                   "text": text})

    async def close(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        await self.flush()
