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


def test_sentence_ending_passes_text_before_the_wind_down_and_holds_it_after():
    from inference.engines.stopping import SentenceEnding

    ending = SentenceEnding(10)  # the wind-down starts at token 7
    assert ending.push("Early text", 3) == ("Early text", False)
    assert ending.push(" and more", 7) == ("", False)
    assert ending.push(" words. Next", 8) == (" and more words.", True)


def test_sentence_ending_at_the_limit_keeps_up_to_a_sentence_end_and_drops_the_rest():
    from inference.engines.stopping import SentenceEnding

    ending = SentenceEnding(10)
    ending.push(" half a", 8)
    assert ending.settle(" thought", generated=10, natural_end=False, emitted="One done.") == ""
    ending.push(" no full stop", 8)
    assert ending.settle(" yet", generated=10, natural_end=False, emitted="Nothing ended") == " no full stop yet"
    ending.push(" it said", 8)
    assert ending.settle(" “yes.” More", generated=10, natural_end=False) == " it said “yes.”"
    ending.push(" the model", 8)
    assert ending.settle(" ended", generated=9, natural_end=True) == " the model ended"
