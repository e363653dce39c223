"""One request's decoding state: limits, stop strings, detokenising, events and the result.

Shared by `LocalEngine.stream` and the continuous-batching scheduler, so a request behaves
the same whether it runs alone or in a batch.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from inference.engines.base import (
    FinishReason,
    GenerationEvent,
    GenerationRequest,
    GenerationResult,
    PromptTooLong,
    TokenEvent,
)
from inference.engines.detokenize import Decoder, IncrementalDetokenizer
from inference.engines.stopping import Deadline, MaxNewTokens, SentenceEnding, StopStringMatcher, last_sentence_end


class SequenceState:
    """Feed it sampled tokens; it returns the events to send and knows when to stop."""

    def __init__(
        self,
        request: GenerationRequest,
        prompt_ids: Sequence[int],
        *,
        tokenizer: Decoder,
        eos_token_ids: frozenset[int],
        cancel: threading.Event | None = None,
        clock: Callable[[], float] = time.monotonic,
        started_at: float | None = None,
    ) -> None:
        params = request.params
        self.request = request
        self.prompt_ids = list(prompt_ids)
        self.cancel_event = cancel or threading.Event()
        self.clock = clock
        self.started_at = clock() if started_at is None else started_at
        self.generated: list[int] = []
        # The repetition penalty counts only what the model has written: the prompt holds the facts
        # the copy must repeat, and counting it pushed the model off them (transformers counts the
        # prompt too; the divide/multiply rule is the same). A set keeps the lookup O(1) per token.
        self._track_seen = params.repetition_penalty != 1.0
        self.seen: set[int] = set()
        self.finish_reason: FinishReason | None = None
        self.result: GenerationResult | None = None
        self._eos = eos_token_ids
        self._detok = IncrementalDetokenizer(tokenizer, self.prompt_ids)
        self._stops = StopStringMatcher(params.stop)
        self._max_tokens = MaxNewTokens(params.max_new_tokens)
        self._sentences = SentenceEnding(params.max_new_tokens) if params.end_on_sentence else None
        self._deadline = Deadline(params.max_seconds, start=self.started_at, clock=clock)
        self._first_token_at: float | None = None
        self.queue_wait_s: float | None = None
        self._parts: list[str] = []
        self._pending_ids: list[int] = []

    @property
    def finished(self) -> bool:
        return self.result is not None

    def admitted(self, at: float | None = None) -> None:
        """The request got a batch slot: its time limit counts from here, not from submission."""
        start = self.clock() if at is None else at
        self.queue_wait_s = start - self.started_at
        self._deadline = Deadline(self.request.params.max_seconds, start=start, clock=self.clock)

    def interrupted(self) -> FinishReason | None:
        """Reason to stop before computing another token: cancelled or out of time."""
        if self.cancel_event.is_set():
            return FinishReason.CANCELLED
        if self._deadline():
            return FinishReason.TIME_LIMIT
        return None

    def add_token(self, token_id: int) -> list[GenerationEvent]:
        """Record one sampled token; return a text event and, when it ends here, the result."""
        if self._first_token_at is None:
            self._first_token_at = self.clock()
        self.generated.append(token_id)
        if self._track_seen:
            self.seen.add(token_id)
        if token_id in self._eos:
            return self.finish(FinishReason.EOS)
        self._pending_ids.append(token_id)
        text, matched = self._stops.push(self._detok.add(token_id))
        sentence_ended = False
        if self._sentences is not None and not matched:
            text, sentence_ended = self._sentences.push(text, len(self.generated))
        events: list[GenerationEvent] = []
        if text:
            events.append(self._emit(text))
        if matched or sentence_ended:
            return events + self.finish(FinishReason.STOP, flush=False)
        if self._max_tokens(len(self.generated)):
            return events + self.finish(FinishReason.LENGTH)
        if self._deadline():
            return events + self.finish(FinishReason.TIME_LIMIT)
        return events

    def finish(
        self, reason: FinishReason, *, error: str | None = None, flush: bool = True
    ) -> list[GenerationEvent]:
        """End the sequence: release held-back text (unless a stop string cut it) and the result."""
        if self.result is not None:
            return []
        events: list[GenerationEvent] = []
        if flush and reason is not FinishReason.ERROR:
            text, matched = self._stops.push(self._detok.flush())
            if matched:
                reason = FinishReason.STOP
            else:
                text += self._stops.flush()
        else:
            text = ""
        if self._sentences is not None and reason is not FinishReason.ERROR:
            natural = reason in (FinishReason.EOS, FinishReason.STOP)
            text = self._sentences.settle(text, generated=len(self.generated), natural_end=natural,
                                          emitted="".join(self._parts))
        if text:
            events.append(self._emit(text))
        kept = "".join(self._parts)
        if self._sentences is not None and reason in (FinishReason.LENGTH, FinishReason.TIME_LIMIT):
            # A sentence begun before the wind-down and cut by the limit: keep what ends on a sentence.
            kept = last_sentence_end(kept)
        self.finish_reason = reason
        self.result = GenerationResult(
            finish_reason=reason,
            text=kept,
            prompt_tokens=len(self.prompt_ids),
            completion_tokens=len(self.generated),
            time_to_first_token_s=(
                None if self._first_token_at is None else self._first_token_at - self.started_at
            ),
            duration_s=self.clock() - self.started_at,
            error_message=error,
            token_ids=tuple(self.generated),
            queue_wait_s=self.queue_wait_s,
        )
        events.append(self.result)
        return events

    def _emit(self, text: str) -> TokenEvent:
        self._parts.append(text)
        event = TokenEvent(text=text, token_ids=tuple(self._pending_ids))
        self._pending_ids.clear()
        return event


def failed_result(
    request: GenerationRequest,
    message: str | None,
    *,
    reason: FinishReason = FinishReason.ERROR,
    prompt_tokens: int = 0,
    duration_s: float = 0.0,
) -> GenerationResult:
    """The result for a request that ended before it produced any token."""
    return GenerationResult(
        finish_reason=reason,
        text="",
        prompt_tokens=prompt_tokens,
        completion_tokens=0,
        time_to_first_token_s=None,
        duration_s=duration_s,
        error_message=message,
    )


def encode_chat(tokenizer: Any, request: GenerationRequest, context_length: int) -> list[int]:
    """Prompt token ids from the chat template, the same for every backend; raises PromptTooLong."""
    if tokenizer.chat_template:
        ids = tokenizer.apply_chat_template(
            request.messages, add_generation_prompt=True, tokenize=True, return_dict=False
        )
    else:
        # A base model without a chat template: plain "role: content" lines.
        text = "".join(f"{m['role']}: {m['content']}\n" for m in request.messages)
        ids = tokenizer(text + "assistant: ")["input_ids"]
    params = request.params
    limit = min(params.max_prompt_tokens, context_length - params.max_new_tokens)
    if len(ids) > limit:
        raise PromptTooLong(len(ids), max(limit, 0))
    return list(ids)


def stream_alone(engine: Any, request: GenerationRequest, cancel: threading.Event | None = None):
    """One request through ``engine`` (a BatchEngine) without the scheduler: tests and benchmarks.

    Token events, then exactly one GenerationResult: a model failure becomes an ``error`` result.
    """
    import logging

    from inference.engines.base import PromptTooLong

    try:
        seq = engine.prepare(request, cancel, started_at=time.monotonic())
    except PromptTooLong as exc:
        yield failed_result(request, str(exc), prompt_tokens=exc.prompt_tokens)
        return
    sampler = engine.sampler(request.params)
    batch = engine.new_batch(max_rows=1)
    try:
        logits = batch.add(seq, seq.prompt_ids)
        while True:
            token = sampler(logits, seq.seen)
            yield from seq.add_token(token)
            if seq.finished:
                return
            if reason := seq.interrupted():
                yield from seq.finish(reason)
                return
            logits = batch.step([token])[0]
    except Exception as exc:
        logging.getLogger(__name__).exception("Generation %s failed", request.request_id)
        yield from seq.finish(FinishReason.ERROR, error=f"Generation failed: {exc}")
    finally:
        close = getattr(batch, "close", None)  # llama.cpp frees its context; torch's batch is plain memory
        if close is not None:
            close()
