from __future__ import annotations

import threading

from inference.engines.base import FinishReason, GenerationResult, TokenEvent
from inference.engines.sequence import SequenceState

from .factories import ByteTokenizer, chat


def make_sequence(clock=None, cancel=None, **params) -> tuple[SequenceState, ByteTokenizer]:
    tokenizer = ByteTokenizer()
    extra = {"clock": clock} if clock else {}
    seq = SequenceState(
        chat("hi", **params),
        tokenizer.encode("prompt"),
        tokenizer=tokenizer,
        eos_token_ids=frozenset({ByteTokenizer.EOS}),
        cancel=cancel,
        **extra,
    )
    return seq, tokenizer


def feed(seq: SequenceState, tokens: list[int]) -> list:
    events = []
    for token in tokens:
        events += seq.add_token(token)
        if seq.finished:
            break
    return events


def test_stop_string_spanning_tokens_ends_with_stop_and_the_text_before_it():
    seq, tokenizer = make_sequence(stop=("STOP",))

    events = feed(seq, tokenizer.encode("Hello STOP and more"))

    texts = [e.text for e in events if isinstance(e, TokenEvent)]
    result = events[-1]
    assert "".join(texts) == "Hello "
    assert (result.finish_reason, result.text) == (FinishReason.STOP, "Hello ")
    assert result.completion_tokens == len("Hello STOP")


def test_generation_stops_exactly_at_max_new_tokens_with_length():
    seq, tokenizer = make_sequence(max_new_tokens=4)

    events = feed(seq, tokenizer.encode("abcdefgh"))

    result = events[-1]
    assert (result.finish_reason, result.text, result.completion_tokens) == (FinishReason.LENGTH, "abcd", 4)
    assert result.token_ids == tuple(tokenizer.encode("abcd"))


def test_eos_token_ends_with_eos_and_adds_no_text():
    seq, tokenizer = make_sequence()

    events = feed(seq, [*tokenizer.encode("ok"), ByteTokenizer.EOS, 120])

    result = events[-1]
    assert isinstance(result, GenerationResult)
    assert (result.finish_reason, result.text, result.completion_tokens) == (FinishReason.EOS, "ok", 3)


def test_text_held_for_a_possible_stop_string_is_released_when_the_length_limit_ends_it():
    seq, tokenizer = make_sequence(stop=("STOP",), max_new_tokens=4)

    events = feed(seq, tokenizer.encode("ab STOP"))

    # "S" might start "STOP", so it is held until the limit ends the generation.
    assert [e.text for e in events if isinstance(e, TokenEvent)] == ["a", "b", " ", "S"]
    assert (events[-1].finish_reason, events[-1].text) == (FinishReason.LENGTH, "ab S")


def test_cancel_and_deadline_interrupt_the_sequence():
    now = [0.0]
    cancel = threading.Event()
    seq, _ = make_sequence(clock=lambda: now[0], cancel=cancel, max_seconds=5.0)

    states = [seq.interrupted()]
    now[0] = 5.0
    states.append(seq.interrupted())
    cancel.set()
    states.append(seq.interrupted())

    assert states == [None, FinishReason.TIME_LIMIT, FinishReason.CANCELLED]


def test_finish_reports_usage_and_time_to_first_token():
    now = [10.0]
    seq, tokenizer = make_sequence(clock=lambda: now[0], max_new_tokens=2)

    now[0] = 10.5
    seq.add_token(tokenizer.encode("a")[0])
    now[0] = 11.0
    result = seq.add_token(tokenizer.encode("b")[0])[-1]

    assert result.time_to_first_token_s == 0.5
    assert result.duration_s == 1.0
    assert result.usage()["total_tokens"] == len("prompt") + 2


def test_copy_ending_on_sentences_stops_at_the_first_sentence_end_near_the_limit():
    seq, tokenizer = make_sequence(max_new_tokens=40, end_on_sentence=True)  # the wind-down starts at token 28

    events = feed(seq, tokenizer.encode("One. Two is here. Three goes on. And on and on and on"))

    texts = "".join(e.text for e in events if isinstance(e, TokenEvent))
    result = events[-1]
    assert (result.finish_reason, result.text) == (FinishReason.STOP, "One. Two is here. Three goes on.")
    assert texts == result.text  # what was streamed is what is kept


def test_copy_ending_on_sentences_drops_an_unfinished_sentence_at_the_limit():
    seq, tokenizer = make_sequence(max_new_tokens=30, end_on_sentence=True)  # wind-down from token 21

    events = feed(seq, tokenizer.encode("Short one. Then a very long sentence that never ends"))

    texts = "".join(e.text for e in events if isinstance(e, TokenEvent))
    result = events[-1]
    assert (result.finish_reason, result.text) == (FinishReason.LENGTH, "Short one.")
    # Streamed up to the wind-down, then held; the kept text ends on the last sentence (renderers show it).
    assert texts == "Short one. Then a ve"


def test_copy_ending_on_sentences_keeps_what_the_model_ends_by_itself_and_numbers_end_no_sentence():
    seq, tokenizer = make_sequence(max_new_tokens=30, end_on_sentence=True)  # wind-down from token 21

    events = feed(seq, [*tokenizer.encode("Boils water quick in 1.7 l"), ByteTokenizer.EOS])

    assert (events[-1].finish_reason, events[-1].text) == (FinishReason.EOS, "Boils water quick in 1.7 l")


def test_copy_ending_on_sentences_keeps_a_text_that_has_no_sentence_end_at_all():
    seq, tokenizer = make_sequence(max_new_tokens=12, end_on_sentence=True)  # wind-down from token 8

    events = feed(seq, tokenizer.encode("Made of 20 cm maple wood"))

    texts = "".join(e.text for e in events if isinstance(e, TokenEvent))
    assert (events[-1].finish_reason, events[-1].text, texts) == (FinishReason.LENGTH, "Made of 20 c", "Made of 20 c")


def test_repetition_penalty_lets_the_model_use_a_prompt_word_but_not_repeat_its_own():
    # Copy must repeat the facts it was given, so the penalty counts only the tokens written so far.
    import torch

    from inference.engines.sampling import Sampler

    seq, tokenizer = make_sequence(repetition_penalty=2.0)  # the prompt is b"prompt"
    sampler = Sampler(seq.request.params)
    p, x = tokenizer.encode("p")[0], tokenizer.encode("x")[0]
    logits = torch.full((257,), -10.0)
    logits[p], logits[x] = 3.0, 2.0  # "p" (in the prompt) is the model's first choice, "x" a close second

    first = sampler(logits, seq.seen)
    seq.add_token(first)
    second = sampler(logits, seq.seen)

    assert (first, second) == (p, x)  # the prompt's "p" is allowed once; after writing it, it is penalised
