from __future__ import annotations

import threading

import pytest

from inference.engines.base import FinishReason, GenerationResult, TokenEvent

from .factories import chat

pytestmark = pytest.mark.model


def run(engine, request, cancel=None) -> tuple[list[TokenEvent], GenerationResult]:
    events = list(engine.stream(request, cancel))
    assert isinstance(events[-1], GenerationResult)
    assert all(isinstance(e, TokenEvent) for e in events[:-1])
    return events[:-1], events[-1]


def test_greedy_output_is_deterministic(engine):
    first = run(engine, chat("Name three colours.", max_new_tokens=12))[1]
    second = run(engine, chat("Name three colours.", max_new_tokens=12))[1]

    assert first.token_ids == second.token_ids
    assert first.text == second.text != ""


def test_generation_stops_exactly_at_max_new_tokens_with_finish_reason_length(engine):
    tokens, result = run(engine, chat("Write a long story about a dragon.", max_new_tokens=5))

    assert (result.finish_reason, result.completion_tokens, len(result.token_ids)) == (FinishReason.LENGTH, 5, 5)
    assert "".join(t.text for t in tokens) == result.text
    assert sum(len(t.token_ids) for t in tokens) == 5


def test_short_answer_ends_with_eos_and_no_special_token_text(engine):
    tokens, result = run(engine, chat("What is the capital of France?", max_new_tokens=32))

    assert result.finish_reason is FinishReason.EOS
    assert result.token_ids[-1] in engine.loaded.eos_token_ids
    assert result.text == "The capital of France is Paris."
    assert result.prompt_tokens == len(engine.encode(chat("What is the capital of France?")))
    assert result.time_to_first_token_s is not None and result.time_to_first_token_s <= result.duration_s


def test_streamed_text_matches_a_full_decode_of_the_tokens(engine):
    tokens, result = run(engine, chat("Say hello in French, German and Japanese.", max_new_tokens=24))

    assert "".join(t.text for t in tokens) == result.text
    assert result.text == engine.loaded.tokenizer.decode(list(result.token_ids), skip_special_tokens=True)


def test_stop_string_inside_a_token_ends_with_stop_and_cuts_the_text(engine):
    tokens, result = run(engine, chat("What is the capital of France?", max_new_tokens=32, stop=("Par",)))

    assert (result.finish_reason, result.text) == (FinishReason.STOP, "The capital of France is ")
    assert "Par" not in "".join(t.text for t in tokens)


def test_seeded_sampling_is_reproducible(engine):
    request = chat("Invent a name for a cat.", max_new_tokens=8, temperature=0.9, top_k=40, seed=3)

    assert run(engine, request)[1].token_ids == run(engine, request)[1].token_ids


def test_prompt_too_long_ends_with_an_error_result_that_says_how_to_fix_it(engine):
    prompt_tokens = len(engine.encode(chat("Tell me about the moon.")))

    tokens, result = run(engine, chat("Tell me about the moon.", max_prompt_tokens=10))

    assert tokens == []
    assert result.finish_reason is FinishReason.ERROR
    assert result.error_message == (
        f"The input is {prompt_tokens} tokens; this model accepts at most 10. Shorten the input."
    )


def test_time_limit_ends_the_generation_with_time_limit(engine):
    tokens, result = run(engine, chat("Write a long story about a dragon.", max_new_tokens=200, max_seconds=0.5))

    assert result.finish_reason is FinishReason.TIME_LIMIT
    assert 0 < result.completion_tokens < 200


def test_cancel_event_ends_the_stream_with_cancelled(engine):
    cancel = threading.Event()
    stream = engine.stream(chat("Write a long story about a dragon.", max_new_tokens=200), cancel)

    first = next(stream)
    cancel.set()
    rest = list(stream)

    assert isinstance(first, TokenEvent)
    assert rest[-1].finish_reason is FinishReason.CANCELLED
    assert rest[-1].completion_tokens < 10
