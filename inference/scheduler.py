"""Continuous batching: one thread decodes every live request with one forward pass per step.

New requests are prefilled and join the running batch between decode steps; finished,
cancelled and timed-out ones leave before the next step, so a slot frees at once. Callers get a
`StreamHandle` they iterate, synchronously or with `async for` on their own event loop.

Importing this module does not import torch; the engine does that when its model loads.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

from inference.engines.base import (
    FinishReason,
    GenerationEvent,
    GenerationRequest,
    GenerationResult,
    PromptTooLong,
)
from inference.engines.local import LocalEngine
from inference.engines.sequence import SequenceState, failed_result

logger = logging.getLogger(__name__)

SHUTDOWN_MESSAGE = "The generation service is shutting down; try again in a moment."


class StreamHandle:
    """One submitted request: iterate it for events (the last is a GenerationResult)."""

    def __init__(self, request: GenerationRequest, wake: threading.Condition) -> None:
        self.request = request
        self.request_id = request.request_id
        self.submitted_at = time.monotonic()
        self.cancel_event = threading.Event()
        self._wake = wake
        self._lock = threading.Lock()
        self._events: queue.SimpleQueue[GenerationEvent] = queue.SimpleQueue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._async_events: asyncio.Queue[GenerationEvent] | None = None
        self._finished = False  # the consumer has received the result

    def cancel(self) -> None:
        """Stop generating; the stream still ends with a result (finish reason `cancelled`)."""
        self.cancel_event.set()
        with self._wake:
            self._wake.notify()

    def result(self) -> GenerationResult:
        """Consume the stream and return its result."""
        for event in self:
            if isinstance(event, GenerationResult):
                return event
        raise RuntimeError("The stream ended without a result.")  # unreachable by contract

    def __iter__(self) -> Iterator[GenerationEvent]:
        try:
            while True:
                event = self._events.get()
                if isinstance(event, GenerationResult):
                    self._finished = True
                yield event
                if self._finished:
                    return
        finally:
            # A consumer that stops early (client gone, exception) frees the slot.
            if not self._finished:
                self.cancel()

    def __aiter__(self) -> AsyncIterator[GenerationEvent]:
        return self._aiter()

    async def _aiter(self) -> AsyncIterator[GenerationEvent]:
        events: asyncio.Queue[GenerationEvent] = asyncio.Queue()
        with self._lock:
            # From here on the scheduler thread delivers on this loop; move what came before.
            self._loop, self._async_events = asyncio.get_running_loop(), events
            while True:
                try:
                    events.put_nowait(self._events.get_nowait())
                except queue.Empty:
                    break
        try:
            while True:
                event = await events.get()
                if isinstance(event, GenerationResult):
                    self._finished = True
                yield event
                if self._finished:
                    return
        finally:
            # Task cancelled (websocket closed) or loop left early: stop generating.
            if not self._finished:
                self.cancel()

    def _deliver(self, event: GenerationEvent) -> None:
        """Called on the scheduler thread."""
        with self._lock:
            if self._loop is None:
                self._events.put(event)
                return
            try:
                self._loop.call_soon_threadsafe(self._async_events.put_nowait, event)
            except RuntimeError:
                # The consumer's event loop is closed: nobody is listening any more.
                self.cancel_event.set()


@dataclass(eq=False)
class _Live:
    """A request in the running batch."""

    handle: StreamHandle
    seq: SequenceState
    sampler: Any
    next_token: int = -1


class Scheduler:
    """Runs a LocalEngine for many concurrent requests with continuous batching."""

    def __init__(self, engine: LocalEngine, max_batch_size: int = 16) -> None:
        self.engine = engine
        self.max_batch_size = max_batch_size
        self._wake = threading.Condition()
        self._pending: deque[StreamHandle] = deque()
        self._stopping = False
        self._batch: Any = None  # DecodeBatch[_Live], created on the scheduler thread
        self.steps = 0  # decode steps run, for tests and metrics
        self._thread = threading.Thread(target=self._run, name="generation-scheduler", daemon=True)
        self._thread.start()

    @property
    def live_count(self) -> int:
        return 0 if self._batch is None else len(self._batch)

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    def submit(self, request: GenerationRequest) -> StreamHandle:
        """Queue a request; thread-safe. The handle yields its events as they are generated."""
        handle = StreamHandle(request, self._wake)
        with self._wake:
            if self._stopping:
                handle._deliver(failed_result(request, SHUTDOWN_MESSAGE, reason=FinishReason.CANCELLED))
                return handle
            self._pending.append(handle)
            self._wake.notify()
        return handle

    def shutdown(self, timeout: float | None = 10.0) -> None:
        """Stop the loop; live and queued requests end with finish reason `cancelled`."""
        with self._wake:
            self._stopping = True
            self._wake.notify()
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._stopping and not self._pending and not self.live_count:
                    self._wake.wait()
                if self._stopping:
                    break
                room = self.max_batch_size - self.live_count
                joining = [self._pending.popleft() for _ in range(min(room, len(self._pending)))]
            for handle in joining:
                self._admit(handle)
            if self.live_count:
                self._drop_interrupted()
            if self.live_count:
                self._decode_step()
        self._close()

    def _admit(self, handle: StreamHandle) -> None:
        request = handle.request
        if handle.cancel_event.is_set():
            handle._deliver(failed_result(request, None, reason=FinishReason.CANCELLED))
            return
        seq: SequenceState | None = None
        try:
            seq = self.engine.prepare(request, handle.cancel_event, started_at=handle.submitted_at)
            if reason := seq.interrupted():
                self._send(handle, seq.finish(reason))
                return
            from inference.engines.sampling import Sampler

            kv, logits = self.engine.prefill(seq.prompt_ids)
            live = _Live(handle, seq, Sampler(request.params, self.engine.loaded.device))
            live.next_token = live.sampler(logits, seq.seen)
            self._send(handle, seq.add_token(live.next_token))
            if seq.finished:
                return
            if self._batch is None:
                self._batch = self.engine.new_batch(max_rows=self.max_batch_size)
            self._batch.add(live, kv)
        except PromptTooLong as exc:
            handle._deliver(failed_result(request, str(exc), prompt_tokens=exc.prompt_tokens))
        except Exception as exc:
            logger.exception("Prefill failed for generation %s", request.request_id)
            if seq is None:
                handle._deliver(failed_result(request, f"Generation failed: {exc}"))
            else:
                self._send(handle, seq.finish(FinishReason.ERROR, error=f"Generation failed: {exc}"))

    def _drop_interrupted(self) -> None:
        for live in list(self._batch.items):
            if reason := live.seq.interrupted():
                self._send(live.handle, live.seq.finish(reason))
                self._batch.remove(live)

    def _decode_step(self) -> None:
        from inference.engines.sampling import sample_batch

        batch = self._batch
        rows = list(batch.items)
        try:
            logits = batch.step(self.engine.loaded.model, [live.next_token for live in rows])
            tokens = sample_batch(logits, [r.sampler for r in rows], [r.seq.seen for r in rows])
            self.steps += 1
        except Exception as exc:
            # Fail the requests in this step, keep the loop (and later requests) alive.
            logger.exception("Decode step failed for %d generations", len(rows))
            for live in rows:
                self._send(live.handle, live.seq.finish(FinishReason.ERROR, error=f"Generation failed: {exc}"))
            self._batch = None
            return
        for live, token in zip(rows, tokens, strict=True):
            live.next_token = token
            self._send(live.handle, live.seq.add_token(token))
            if live.seq.finished:
                batch.remove(live)

    def _send(self, handle: StreamHandle, events: list[GenerationEvent]) -> None:
        for event in events:
            handle._deliver(event)

    def _close(self) -> None:
        if self._batch is not None:
            for live in list(self._batch.items):
                self._send(live.handle, live.seq.finish(FinishReason.CANCELLED, error=SHUTDOWN_MESSAGE))
            self._batch = None
        with self._wake:
            pending, self._pending = list(self._pending), deque()
        for handle in pending:
            handle._deliver(failed_result(handle.request, SHUTDOWN_MESSAGE, reason=FinishReason.CANCELLED))
