from __future__ import annotations

from inference.engines.stopping import Deadline, MaxNewTokens, StopStringMatcher


def test_stop_string_spanning_two_pushes_is_found_and_never_shown():
    matcher = StopStringMatcher(["</answer>"])

    shown = [matcher.push("Paris</ans"), matcher.push("wer> more")]

    assert shown == [("Paris", False), ("", True)]


def test_text_that_might_start_a_stop_string_is_held_then_released_when_it_does_not():
    matcher = StopStringMatcher(["STOP"])

    assert matcher.push("go ST") == ("go ", False)
    assert matcher.push("ART") == ("START", False)


def test_held_text_is_released_by_flush_at_the_end():
    matcher = StopStringMatcher(["STOP"])

    assert matcher.push("abc ST") == ("abc ", False)
    assert matcher.flush() == "ST"


def test_the_earliest_of_several_stop_strings_wins():
    matcher = StopStringMatcher(["world", "lo"])

    assert matcher.push("hello world") == ("hel", True)


def test_no_stop_strings_passes_text_through():
    matcher = StopStringMatcher([])

    assert matcher.push("anything") == ("anything", False)


def test_max_new_tokens_is_reached_exactly_at_the_limit():
    limit = MaxNewTokens(3)

    assert [limit(n) for n in (1, 2, 3)] == [False, False, True]


def test_deadline_expires_after_the_given_seconds():
    now = [100.0]
    deadline = Deadline(2.0, clock=lambda: now[0])

    before = deadline()
    now[0] = 102.0

    assert (before, deadline()) == (False, True)
