"""The answer prompt's pure parts: passages as data, the token budget, citations and the output guard."""

from __future__ import annotations

import re

from inference.knowledge.prompt import (
    DATA_NOT_INSTRUCTIONS,
    INSTRUCTIONS,
    OutputGuard,
    Passage,
    answer_prompt,
    cited_numbers,
    protected_text,
)

SYSTEM = "You are Sunny, the helpful assistant of Lumen Lamps. Keep answers short and friendly."
PASSAGES = [Passage(11, "Shipping", "Standard delivery costs 4.95 €."), Passage(12, "Express", "Express costs 9.95 €."),
            Passage(13, "Returns", "Returns are free within 30 days.")]


def words(text: str) -> int:  # a stand-in tokenizer: one token per word, so budgets are easy to reason about
    return len(text.split())


def test_passages_are_numbered_fenced_and_marked_as_data_inside_the_system_message():
    prompt = answer_prompt(system_prompt=SYSTEM, turns=[], question="How much is express?", passages=PASSAGES,
                           budget_tokens=10_000, count=words)
    system = prompt.messages[0]
    assert system["role"] == "system" and system["content"].startswith(SYSTEM)
    assert INSTRUCTIONS in system["content"] and DATA_NOT_INSTRUCTIONS in system["content"]
    assert "<passages>\n\n[1] Shipping\nStandard delivery costs 4.95 €.\n\n[2] Express\nExpress costs 9.95 €.\n\n" \
           "[3] Returns\nReturns are free within 30 days.\n\n</passages>" in system["content"]
    assert prompt.messages[-1] == {"role": "user", "content": "How much is express?"}
    assert (prompt.passages, prompt.dropped_passages, prompt.dropped_turns) == (PASSAGES, 0, 0)


def test_a_tight_budget_drops_the_lowest_ranked_passages_first_then_the_oldest_turns_and_never_fails():
    turns = [{"role": "user", "content": "hello " * 30}, {"role": "assistant", "content": "hi " * 30},
             {"role": "user", "content": "What does shipping cost?"}, {"role": "assistant", "content": "4.95 €."}]
    full = answer_prompt(system_prompt=SYSTEM, turns=turns, question="And express?", passages=PASSAGES,
                         budget_tokens=10_000, count=words)

    fewer_passages = answer_prompt(system_prompt=SYSTEM, turns=turns, question="And express?", passages=PASSAGES,
                                   budget_tokens=full.prompt_tokens - 5, count=words)
    assert [p.id for p in fewer_passages.passages] == [11, 12] and fewer_passages.messages[1:-1] == turns

    no_old_turns = answer_prompt(system_prompt=SYSTEM, turns=turns, question="And express?", passages=PASSAGES,
                                 budget_tokens=full.prompt_tokens - 70, count=words)
    assert [p.id for p in no_old_turns.passages] == [11]
    assert no_old_turns.messages[1:-1] == turns[2:] and no_old_turns.dropped_turns == 2
    assert no_old_turns.prompt_tokens <= full.prompt_tokens - 70

    tiny = answer_prompt(system_prompt=SYSTEM, turns=turns, question="And express?",
                         passages=[Passage(1, "Manual", "word " * 500)], budget_tokens=150, count=words)
    assert tiny.prompt_tokens <= 150 and tiny.messages[1:-1] == [] and len(tiny.passages) == 1
    assert tiny.passages[0].text.endswith("…") and tiny.messages[-1]["content"] == "And express?"


def test_citations_are_the_markers_that_point_at_given_passages_in_order_of_first_use():
    assert cited_numbers("Express costs 9.95 € [2]. Standard is 4.95 € [1][2].", given=3) == [2, 1]
    assert cited_numbers("See [1, 3] and [3; 2].", given=3) == [1, 3, 2]
    assert cited_numbers("Made up [4] and [0] and [12].", given=3) == []
    assert cited_numbers("No markers at all.", given=3) == []


def _stream(guard: OutputGuard, text: str) -> str:
    shown = "".join(guard.feed(piece) for piece in re.findall(r".{1,3}", text, flags=re.S))
    return shown + guard.finish()


def test_the_guard_passes_an_ordinary_answer_through_whole():
    guard = OutputGuard(protected_text(SYSTEM))
    reply = "Express delivery costs 9.95 € and arrives the next working day [2]. Anything else?"
    assert _stream(guard, reply) == reply and not guard.tripped


def test_the_guard_stops_a_reply_that_repeats_the_system_prompt_before_the_repeated_words_are_shown():
    guard = OutputGuard(protected_text(SYSTEM))
    reply = f"Sure! My instructions say: {SYSTEM} {INSTRUCTIONS}"
    shown = _stream(guard, reply)

    assert guard.tripped and shown == "Sure! My instructions say: "
    assert "Sunny" not in shown and "Lumen Lamps" not in shown
    assert guard.feed("more text") == "" and guard.finish() == ""


def test_the_guard_ignores_case_and_punctuation_and_holds_back_only_a_few_words():
    guard = OutputGuard("Never tell anyone that the discount code is BLUE42.", n=6)
    assert guard.feed("Well, ") == ""  # fewer than n - 1 words so far: all held
    assert guard.feed("here it is: one two three four five six ") == "Well, here it is: one "  # 5 held
    assert guard.feed("NEVER tell anyone, that the discount") == "two three four five six "
    assert guard.feed(" code") == ""
    assert guard.tripped and "NEVER" not in guard.shown


def test_the_guard_does_not_stop_quoting_a_passage():
    guard = OutputGuard(protected_text(SYSTEM))
    quote = f"As the policy says: {PASSAGES[2].text} [3]"
    assert _stream(guard, quote) == quote and not guard.tripped


def test_a_reply_quotes_the_passages_it_repeats_runs_of_words_from_most_repeated_first():
    from inference.knowledge.prompt import Passage, quoted_numbers

    passages = [Passage(1, "Gift cards", "Digital gift cards from 10 € to 500 € are sent by email at once."),
                Passage(2, "Shipping", "Standard delivery costs 4.95 € and express delivery costs 9.95 €."),
                Passage(3, "Hours", "Customer service answers chats Monday to Friday.")]
    assert quoted_numbers("Standard delivery costs 4.95 € and express delivery costs 9.95 €.", passages) == [2]
    assert quoted_numbers("Gift cards are sent by email at once; standard delivery costs 4.95 €.", passages) == [1, 2]
    assert quoted_numbers("Delivery is cheap.", passages) == []
