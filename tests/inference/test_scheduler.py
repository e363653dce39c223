from __future__ import annotations

import asyncio
import threading
import time

import pytest

from inference.engines.base import FinishReason, GenerationResult, TokenEvent
from inference.engines.batch import DecodeBatch

from .factories import chat

pytestmark = pytest.mark.model

LONG = "Write a long story about a dragon who learns to bake bread."
# Different prompt lengths make rows join with padding on either side, and the long prompt
# leaving early makes the batch trim its padded left edge.
PROMPTS = [
    ("What is the capital of France?", 16),
    ("Write a haiku about the sea.", 16),
    (" ".join(["Summarise this text about rivers and mountains and forests."] * 12), 3),
    ("List three uses of a paperclip.", 16),
    ("Tell me a joke about cats.", 16),
    ("Translate 'good morning' into Spanish.", 16),
]


def solo(engine, request) -> GenerationResult:
    return list(engine.stream(request))[-1]


def test_staggered_concurrent_requests_all_finish_with_their_solo_greedy_tokens(engine, scheduler):
    requests = [chat(text, max_new_tokens=limit) for text, limit in PROMPTS]
    expected = [solo(engine, r) for r in requests]

    handles = []
    for request in requests:
        handles.append(scheduler.submit(request))
        time.sleep(0.1)
    results = [h.result() for h in handles]

    assert [r.token_ids for r in results] == [e.token_ids for e in expected]
    assert [r.text for r in results] == [e.text for e in expected]
    assert [r.finish_reason for r in results] == [e.finish_reason for e in expected]
    # Batched: far fewer decode steps than tokens generated.
    assert scheduler.steps < sum(r.completion_tokens for r in results) / 2
    assert scheduler.live_count == 0


def test_sync_iteration_yields_token_events_then_one_result(scheduler):
    events = list(scheduler.submit(chat("Name a fruit.", max_new_tokens=6)))

    assert all(isinstance(e, TokenEvent) for e in events[:-1])
    assert isinstance(events[-1], GenerationResult)
    assert "".join(e.text for e in events[:-1]) == events[-1].text


async def test_async_iteration_delivers_events_on_the_callers_loop(scheduler):
    handle = scheduler.submit(chat("Name a fruit.", max_new_tokens=6))

    events = [event async for event in handle]

    assert isinstance(events[-1], GenerationResult)
    assert events[-1].completion_tokens == len(events[-1].token_ids) > 0
    assert "".join(e.text for e in events[:-1]) == events[-1].text


async def test_cancelling_the_consuming_task_cancels_the_generation(scheduler):
    handle = scheduler.submit(chat(LONG, max_new_tokens=200))
    first_token = asyncio.Event()

    async def consume():
        async for _event in handle:
            first_token.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first_token.wait(), 30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert handle.cancel_event.is_set()


def test_cancel_frees_the_slot_for_a_waiting_request(engine):
    from inference.scheduler import Scheduler

    single = Scheduler(engine, max_batch_size=1)
    try:
        long = single.submit(chat(LONG, max_new_tokens=200))
        stream = iter(long)
        assert isinstance(next(stream), TokenEvent)
        waiting = single.submit(chat("Name a fruit.", max_new_tokens=4))
        long.cancel()

        cancelled = [e for e in stream if isinstance(e, GenerationResult)][0]
        finished = waiting.result()
    finally:
        single.shutdown()

    assert cancelled.finish_reason is FinishReason.CANCELLED
    assert cancelled.completion_tokens < 200
    assert (finished.finish_reason, finished.completion_tokens) == (FinishReason.LENGTH, 4)


def test_prompt_too_long_gives_an_error_result_and_the_scheduler_keeps_serving(engine, scheduler):
    prompt_tokens = len(engine.encode(chat("Tell me about the moon.")))

    rejected = scheduler.submit(chat("Tell me about the moon.", max_prompt_tokens=10)).result()
    served = scheduler.submit(chat("Name a fruit.", max_new_tokens=3)).result()

    assert rejected.finish_reason is FinishReason.ERROR
    assert rejected.error_message == (
        f"The input is {prompt_tokens} tokens; this model accepts at most 10. Shorten the input."
    )
    assert served.finish_reason is FinishReason.LENGTH


def test_time_limit_ends_a_batched_request_with_time_limit(scheduler):
    limited = scheduler.submit(chat(LONG, max_new_tokens=200, max_seconds=0.6))
    other = scheduler.submit(chat("Name a fruit.", max_new_tokens=4))

    result = limited.result()

    assert result.finish_reason is FinishReason.TIME_LIMIT
    assert 0 < result.completion_tokens < 200
    assert other.result().finish_reason is FinishReason.LENGTH


def test_a_failing_decode_step_fails_live_requests_and_the_scheduler_keeps_serving(scheduler, monkeypatch):
    real_step = DecodeBatch.step
    failures = iter([True])

    def flaky_step(self, model, token_ids):
        if next(failures, False):
            raise RuntimeError("out of memory")
        return real_step(self, model, token_ids)

    monkeypatch.setattr(DecodeBatch, "step", flaky_step)

    failed = scheduler.submit(chat(LONG, max_new_tokens=20)).result()
    served = scheduler.submit(chat("Name a fruit.", max_new_tokens=3)).result()

    assert (failed.finish_reason, failed.error_message) == (FinishReason.ERROR, "Generation failed: out of memory")
    assert served.finish_reason is FinishReason.LENGTH


def test_shutdown_cancels_live_requests_with_a_readable_message(engine):
    from inference.scheduler import SHUTDOWN_MESSAGE, Scheduler

    local = Scheduler(engine, max_batch_size=2)
    handle = local.submit(chat(LONG, max_new_tokens=200))
    stream = iter(handle)
    next(stream)
    local.shutdown()

    result = [e for e in stream if isinstance(e, GenerationResult)][0]
    late = local.submit(chat("Name a fruit.")).result()

    assert (result.finish_reason, result.error_message) == (FinishReason.CANCELLED, SHUTDOWN_MESSAGE)
    assert (late.finish_reason, late.error_message) == (FinishReason.CANCELLED, SHUTDOWN_MESSAGE)


def test_submit_is_safe_from_many_threads(scheduler):
    results: list[GenerationResult] = []
    lock = threading.Lock()

    def worker(i: int) -> None:
        result = scheduler.submit(chat(f"Count to {i}.", max_new_tokens=3)).result()
        with lock:
            results.append(result)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert [r.finish_reason for r in results] == [FinishReason.LENGTH] * 8
