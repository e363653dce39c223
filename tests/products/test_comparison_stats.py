"""The win rate of B over A with its Wilson 95 % interval, and when a version may be called the winner."""

from __future__ import annotations

import pytest

from products.comparisons.stats import tally, wilson_interval


def test_wilson_interval_matches_the_published_formula():
    # 15 of 20: centre (15 + 1.92) / 23.84, half-width 1.96·√(p(1-p)/n + z²/4n²) / (1 + z²/n).
    low, high = wilson_interval(15, 20)
    assert low == pytest.approx(0.5313, abs=1e-4) and high == pytest.approx(0.8881, abs=1e-4)


def test_nineteen_votes_for_b_do_not_decide_even_with_a_clear_lead():
    result = tally(wins_a=0, wins_b=19, ties=4)
    assert result.low > 0.5  # the interval alone would say B
    assert result.winner is None and result.more_votes == 1


def test_twenty_votes_with_a_clear_lead_decide_for_b_and_ties_do_not_count():
    result = tally(wins_a=4, wins_b=16, ties=9)
    assert (result.decisive, result.votes, result.rate_b) == (20, 29, 0.8)
    assert result.winner == "b" and result.more_votes is None


def test_a_wins_when_the_interval_lies_below_half():
    assert tally(wins_a=17, wins_b=3, ties=0).winner == "a"


def test_a_close_race_asks_for_more_votes_and_a_level_one_for_none_in_particular():
    close = tally(wins_a=9, wins_b=12, ties=0)
    assert close.winner is None and close.more_votes > 100
    level = tally(wins_a=10, wins_b=10, ties=2)
    assert level.winner is None and level.more_votes is None
    assert tally(wins_a=0, wins_b=0, ties=3).more_votes == 20
