"""What every backend promises, checked against the real model on each (torch, llama.cpp)."""

from __future__ import annotations

import time

import pytest

from inference.engines.base import FinishReason, GenerationResult, QueuedEvent, TokenEvent
from inference.scheduler import Scheduler

from .factories import chat

pytestmark = pytest.mark.model

LONG = "Write a long story about a dragon who learns to bake bread."


def solo(engine, request) -> GenerationResult:
    events = list(engine.stream(request))
    assert all(isinstance(e, TokenEvent) for e in events[:-1])
    return events[-1]


def test_greedy_output_is_deterministic(any_engine):
    first = solo(any_engine, chat("Name three colours.", max_new_tokens=16))
    second = solo(any_engine, chat("Name three colours.", max_new_tokens=16))

    assert first.token_ids == second.token_ids
    assert first.text == second.text != ""
    assert first.finish_reason in (FinishReason.EOS, FinishReason.LENGTH)


def test_generation_stops_exactly_at_max_new_tokens(any_engine):
    result = solo(any_engine, chat(LONG, max_new_tokens=7))

    assert (result.finish_reason, result.completion_tokens, len(result.token_ids)) == (FinishReason.LENGTH, 7, 7)


def test_a_stop_string_ends_the_text_just_before_it(any_engine):
    free = solo(any_engine, chat(LONG, max_new_tokens=24)).text
    stop = free[12:16]  # a piece of what this backend writes, wherever tokens split it

    result = solo(any_engine, chat(LONG, max_new_tokens=24, stop=(stop,)))

    assert (result.finish_reason, result.text) == (FinishReason.STOP, free[: free.index(stop)])


def test_cancelling_frees_the_sequence_for_the_next_request(any_engine):
    single = Scheduler(any_engine, max_batch_size=1)
    try:
        long = single.submit(chat(LONG, max_new_tokens=300))
        stream = iter(long)
        assert isinstance(next(stream), TokenEvent)
        waiting = single.submit(chat("Name a fruit.", max_new_tokens=4))
        long.cancel()
        cancelled = [e for e in stream if isinstance(e, GenerationResult)][0]
        finished = waiting.result()
    finally:
        single.shutdown()

    assert cancelled.finish_reason is FinishReason.CANCELLED and cancelled.completion_tokens < 300
    assert (finished.finish_reason, finished.completion_tokens) == (FinishReason.LENGTH, 4)
    status = single.status()
    assert (status["backend"], status["slots_in_use"], status["queue_depth"]) == (any_engine.backend, 0, 0)
    assert status["recent_tokens_per_s"] > 0


def test_concurrent_sequences_each_get_their_own_answer(any_engine):
    prompts = ["What is the capital of France?", "Name three colours.", LONG, "Write a haiku about the sea."]
    requests = [chat(text, max_new_tokens=12) for text in prompts]
    alone = [solo(any_engine, r) for r in requests]
    batched = Scheduler(any_engine, max_batch_size=4)
    try:
        handles = []
        for request in requests:
            handles.append(batched.submit(request))
            time.sleep(0.05)  # staggered: rows join a batch that is already decoding
        results = [h.result() for h in handles]
    finally:
        batched.shutdown()

    # torch in fp32 is batch-invariant to the token; llama.cpp's CPU kernels are not exactly, so
    # there the batched run must agree with the solo one on its first tokens.
    same = 12 if any_engine.backend == "torch" else 3
    assert [r.token_ids[:same] for r in results] == [a.token_ids[:same] for a in alone]
    assert all(r.finish_reason in (FinishReason.LENGTH, FinishReason.EOS) and r.text for r in results)
    assert batched.steps < sum(r.completion_tokens for r in results)


def test_queued_requests_see_their_position_and_start_in_order(any_engine):
    single = Scheduler(any_engine, max_batch_size=1)
    try:
        running = single.submit(chat(LONG, max_new_tokens=300))
        stream = iter(running)
        assert isinstance(next(stream), TokenEvent)
        second = single.submit(chat("Name a fruit.", max_new_tokens=3))
        third = single.submit(chat("Name a colour.", max_new_tokens=3))
        time.sleep(0.5)  # both prepared and told where they stand
        running.cancel()
        list(stream)
        second_events, third_events = list(second), list(third)
    finally:
        single.shutdown()

    assert [e.position for e in second_events if isinstance(e, QueuedEvent)] == [0]
    assert [e.position for e in third_events if isinstance(e, QueuedEvent)] == [1, 0]
    done, started = second_events[-1], third_events[-1]
    assert done.finish_reason is started.finish_reason is FinishReason.LENGTH
    # In order: with one slot the third can only start once the second has ended.
    assert third.submitted_at + started.time_to_first_token_s >= second.submitted_at + done.duration_s


def test_a_request_waiting_too_long_for_a_slot_ends_with_a_clear_message(any_engine):
    from inference.scheduler import queue_timeout_message

    single = Scheduler(any_engine, max_batch_size=1, queue_wait_s=0.5)
    try:
        running = single.submit(chat(LONG, max_new_tokens=2000))
        stream = iter(running)
        next(stream)
        waiting = single.submit(chat("Name a fruit.", max_new_tokens=3))
        events = list(waiting)
        running.cancel()
        list(stream)
    finally:
        single.shutdown()

    assert isinstance(events[0], QueuedEvent)
    result = events[-1]
    assert (result.finish_reason, result.error_message) == (FinishReason.ERROR, queue_timeout_message(0.5))
    assert result.text == "" and result.completion_tokens == 0


def test_the_time_limit_counts_from_the_slot_not_from_submission(any_engine):
    single = Scheduler(any_engine, max_batch_size=1)
    try:
        first = single.submit(chat(LONG, max_new_tokens=300))
        stream = iter(first)
        next(stream)
        limited = single.submit(chat("Name a fruit.", max_new_tokens=1, max_seconds=2.0))
        time.sleep(2.5)  # longer than its whole time limit, spent waiting for the slot
        first.cancel()
        list(stream)
        result = limited.result()
    finally:
        single.shutdown()

    assert (result.finish_reason, result.completion_tokens) == (FinishReason.LENGTH, 1)
    assert result.queue_wait_s >= 2.5
