"""Continuous batching: one thread decodes every live request with one forward pass per step.

A request's life: `submit` queues it (never blocking the caller); a preparation thread tokenises
it, so a huge prompt never stalls the decode thread; the decode thread admits prepared requests
in submission order while a slot is free, prefilling at most PREFILL_TOKENS_PER_STEP prompt tokens
between two decode steps, so the streams already running keep getting tokens while newcomers
join. Requests beyond the batch get `QueuedEvent(position)` (again whenever the position moves)
and end with a clear error after `queue_wait_s`; the per-request time limit counts from the slot.
Finished, cancelled and timed-out sequences leave before the next step, so a slot frees at once.
Callers get a `StreamHandle` they iterate, synchronously or with `async for` on their own loop.

The scheduler calls only the `BatchEngine` interface (inference/engines/base.py), so the same
loop drives the torch and the llama.cpp backends. Importing it does not import torch.
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
    BatchEngine,
    FinishReason,
    GenerationEvent,
    GenerationRequest,
    GenerationResult,
    PromptTooLong,
    QueuedEvent,
)
from inference.engines.sequence import SequenceState, failed_result
from studio import timeline

logger = logging.getLogger(__name__)

SHUTDOWN_MESSAGE = "The generation service is shutting down; try again in a moment."
# Prompt tokens prefilled between two decode steps (at least one whole prompt): live streams wait
# for at most about this much prefill before their next token.
PREFILL_TOKENS_PER_STEP = 256
# Seconds of decoding the "recent tokens/s" figure of `status()` looks back over.
RATE_WINDOW_S = 10.0


def queue_timeout_message(seconds: float) -> str:
    return (
        f"Every generation slot stayed busy for {seconds:g} seconds, so this request did not start. "
        "Try again in a moment."
    )


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
class _Waiting:
    """A submitted request that has no batch slot yet."""

    handle: StreamHandle
    ready: bool = False  # prepared (tokenised), or failed while preparing
    seq: SequenceState | None = None
    failure: GenerationResult | None = None
    position: int | None = None  # the last position told to the caller


@dataclass(eq=False)
class _Live:
    """A request in the running batch."""

    handle: StreamHandle
    seq: SequenceState
    sampler: Any
    next_token: int = -1


class Scheduler:
    """Runs a BatchEngine for many concurrent requests with continuous batching."""

    def __init__(
        self,
        engine: BatchEngine,
        max_batch_size: int = 16,
        *,
        queue_wait_s: float = 120.0,
        prefill_tokens_per_step: int = PREFILL_TOKENS_PER_STEP,
    ) -> None:
        self.engine = engine
        self.max_batch_size = max_batch_size
        self.queue_wait_s = queue_wait_s
        self.prefill_tokens_per_step = prefill_tokens_per_step
        self._wake = threading.Condition()
        self._waiting: deque[_Waiting] = deque()
        self._to_prepare: queue.SimpleQueue[_Waiting | None] = queue.SimpleQueue()
        self._stopping = False
        self._batch: Any = None  # EngineBatch of _Live, created on the scheduler thread
        self.steps = 0  # decode steps run, for tests and metrics
        self.tokens_generated = 0
        self._recent: deque[tuple[float, int]] = deque()  # (time, tokens) per decode step
        self._stats_lock = threading.Lock()
        self._preparer = threading.Thread(target=self._prepare_loop, name="generation-prepare", daemon=True)
        self._thread = threading.Thread(target=self._run, name="generation-scheduler", daemon=True)
        self._preparer.start()
        self._thread.start()

    @property
    def live_count(self) -> int:
        return 0 if self._batch is None else len(self._batch)

    @property
    def pending_count(self) -> int:
        return len(self._waiting)

    def status(self) -> dict[str, Any]:
        """Backend, threads, slots in use, queue depth and recent tokens/s, for the admin page."""
        now = time.monotonic()
        with self._stats_lock:
            recent = [(t, n) for t, n in self._recent if now - t <= RATE_WINDOW_S]
        rate = sum(n for _, n in recent) / RATE_WINDOW_S if recent else 0.0
        return {
            "backend": self.engine.backend,
            "threads": self.engine.threads,
            "slots": self.max_batch_size,
            "slots_in_use": self.live_count,
            "queue_depth": self.pending_count,
            "recent_tokens_per_s": round(rate, 1),
        }

    def submit(self, request: GenerationRequest) -> StreamHandle:
        """Queue a request; thread-safe and quick. The handle yields its events as they come."""
        handle = StreamHandle(request, self._wake)
        entry = _Waiting(handle)
        with self._wake:
            if self._stopping:
                handle._deliver(failed_result(request, SHUTDOWN_MESSAGE, reason=FinishReason.CANCELLED))
                return handle
            self._waiting.append(entry)
            # Told at once, not after the decode step in progress: "N ahead of you" from the start.
            position = len(self._waiting) - 1 - (self.max_batch_size - self.live_count)
            if position >= 0:
                entry.position = position
                handle._deliver(QueuedEvent(position))
            self._wake.notify()
        self._to_prepare.put(entry)
        return handle

    def shutdown(self, timeout: float | None = 10.0) -> None:
        """Stop the loop; live and queued requests end with finish reason `cancelled`."""
        with self._wake:
            self._stopping = True
            self._wake.notify()
        self._to_prepare.put(None)
        self._thread.join(timeout)
        self._preparer.join(timeout)

    # The preparation thread ---------------------------------------------------------------

    def _prepare_loop(self) -> None:
        while (entry := self._to_prepare.get()) is not None:
            request, handle = entry.handle.request, entry.handle
            seq = failure = None
            if not handle.cancel_event.is_set():
                try:
                    seq = self.engine.prepare(request, handle.cancel_event, started_at=handle.submitted_at)
                except PromptTooLong as exc:
                    failure = failed_result(request, str(exc), prompt_tokens=exc.prompt_tokens)
                except Exception as exc:
                    logger.exception("Preparing generation %s failed", request.request_id)
                    failure = failed_result(request, f"Generation failed: {exc}")
            timeline.mark(request.request_id, "scheduler.prepared")
            with self._wake:
                entry.seq, entry.failure, entry.ready = seq, failure, True
                self._wake.notify()

    # The decode thread --------------------------------------------------------------------

    def _run(self) -> None:
        try:
            # Made now, not on the first request: a llama.cpp context takes a moment to allocate.
            self._batch = self.engine.new_batch(max_rows=self.max_batch_size)
        except Exception:
            logger.exception("Could not make the decode batch; trying again on the first request")
        while True:
            with self._wake:
                if not self._stopping and not self.live_count and not self._admissible():
                    # Idle: sleep until a submit, a prepared prompt or a cancel; waiting requests
                    # also need their queue-wait limit checked now and then.
                    self._wake.wait(timeout=0.5 if self._waiting else None)
                if self._stopping:
                    break
                joining, ended = self._take_joining()
            for handle, result in ended:
                handle._deliver(result)
            for entry in joining:
                self._admit(entry)
            self._tell_positions()
            if self.live_count:
                self._drop_interrupted()
            if self.live_count:
                self._decode_step()
        self._close()

    def _admissible(self) -> bool:
        """Whether the front request can join now (called under the lock)."""
        return bool(self._waiting) and self._waiting[0].ready and self.live_count < self.max_batch_size

    def _take_joining(self) -> tuple[list[_Waiting], list[tuple[StreamHandle, GenerationResult]]]:
        """Under the lock: drop cancelled and expired waiters, take the prepared front ones."""
        now = time.monotonic()
        ended: list[tuple[StreamHandle, GenerationResult]] = []
        kept: deque[_Waiting] = deque()
        for entry in self._waiting:
            handle = entry.handle
            if handle.cancel_event.is_set():
                ended.append((handle, failed_result(handle.request, None, reason=FinishReason.CANCELLED)))
            elif now - handle.submitted_at > self.queue_wait_s:
                ended.append((handle, failed_result(
                    handle.request, queue_timeout_message(self.queue_wait_s), duration_s=now - handle.submitted_at
                )))
            else:
                kept.append(entry)
        self._waiting = kept
        room = self.max_batch_size - self.live_count
        joining: list[_Waiting] = []
        budget = self.prefill_tokens_per_step
        # In submission order: a request whose prompt is still being tokenised holds the ones behind it.
        while kept and kept[0].ready and len(joining) < room:
            entry = kept[0]
            size = len(entry.seq.prompt_ids) if entry.seq is not None else 0
            if joining and size > budget:
                break
            budget -= size
            joining.append(kept.popleft())
        return joining, ended

    def _tell_positions(self) -> None:
        """Send `QueuedEvent(position)` to waiters beyond the free slots whose position moved."""
        with self._wake:
            room = self.max_batch_size - self.live_count
            moved = []
            for index, entry in enumerate(self._waiting):
                position = index - room
                if position >= 0 and position != entry.position:
                    entry.position = position
                    moved.append((entry.handle, position))
        for handle, position in moved:
            handle._deliver(QueuedEvent(position))

    def _admit(self, entry: _Waiting) -> None:
        handle, seq = entry.handle, entry.seq
        if entry.failure is not None or seq is None:
            handle._deliver(entry.failure or failed_result(handle.request, None, reason=FinishReason.CANCELLED))
            return
        request = handle.request
        seq.admitted()
        if reason := seq.interrupted():
            self._send(handle, seq.finish(reason))
            return
        timeline.mark(request.request_id, "scheduler.admit")
        live = _Live(handle, seq, self.engine.sampler(request.params))
        joined = False
        try:
            if self._batch is None:
                self._batch = self.engine.new_batch(max_rows=self.max_batch_size)
            logits = self._batch.add(live, seq.prompt_ids)
            joined = True
            live.next_token = live.sampler(logits, seq.seen)
            timeline.mark(request.request_id, "first_token")
            self._count(1)
            self._send(handle, seq.add_token(live.next_token))
        except Exception as exc:
            logger.exception("Prefill failed for generation %s", request.request_id)
            self._send(handle, seq.finish(FinishReason.ERROR, error=f"Generation failed: {exc}"))
        if joined and seq.finished:
            self._batch.remove(live)

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
            logits = batch.step([live.next_token for live in rows])
            tokens = sample_batch(logits, [r.sampler for r in rows], [r.seq.seen for r in rows])
            self.steps += 1
        except Exception as exc:
            # Fail the requests in this step, keep the loop (and later requests) alive.
            logger.exception("Decode step failed for %d generations", len(rows))
            for live in rows:
                self._send(live.handle, live.seq.finish(FinishReason.ERROR, error=f"Generation failed: {exc}"))
                batch.remove(live)
            return
        self._count(len(rows))
        for live, token in zip(rows, tokens, strict=True):
            live.next_token = token
            self._send(live.handle, live.seq.add_token(token))
            if live.seq.finished:
                batch.remove(live)

    def _count(self, tokens: int) -> None:
        now = time.monotonic()
        with self._stats_lock:
            self.tokens_generated += tokens
            self._recent.append((now, tokens))
            while self._recent and now - self._recent[0][0] > RATE_WINDOW_S:
                self._recent.popleft()

    def _send(self, handle: StreamHandle, events: list[GenerationEvent]) -> None:
        for event in events:
            handle._deliver(event)

    def _close(self) -> None:
        if self._batch is not None:
            for live in list(self._batch.items):
                self._send(live.handle, live.seq.finish(FinishReason.CANCELLED, error=SHUTDOWN_MESSAGE))
            self._batch = None
        with self._wake:
            waiting, self._waiting = list(self._waiting), deque()
        for entry in waiting:
            entry.handle._deliver(
                failed_result(entry.handle.request, SHUTDOWN_MESSAGE, reason=FinishReason.CANCELLED)
            )
