"""studio/ratelimit.py: sliding windows, costs, all-or-nothing limits and when to retry.

On whichever cache the run configures: local memory by default, Redis (the Lua script) with REDIS_URL.
"""

from __future__ import annotations

import pytest
from django.core.cache import cache

import studio.ratelimit
from studio.ratelimit import Decision, Limit, rate_limit_hit, rate_limits_take


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    cache.clear()
    now = {"t": 1_000_000.0}
    monkeypatch.setattr(studio.ratelimit, "time", type("Clock", (), {"time": staticmethod(lambda: now["t"])}))
    yield now
    cache.clear()


def test_the_window_slides_and_a_refusal_says_when_the_oldest_hit_leaves_it(clock):
    three = Limit("tests:slide", 3, 60)
    start = clock["t"]
    for offset in (0, 10, 20):
        clock["t"] = start + offset
        assert rate_limits_take([three]) == Decision(True)
    clock["t"] = start + 30
    assert rate_limits_take([three]) == Decision(False, three, 30)  # the hit at 0 leaves at 60
    clock["t"] = start + 59.5
    assert rate_limits_take([three]) == Decision(False, three, 1)
    clock["t"] = start + 60
    assert rate_limits_take([three]).allowed  # one left the window: one more fits, no fixed-window reset
    assert rate_limits_take([three]) == Decision(False, three, 10)  # next to leave: the hit at 10


def test_a_hit_may_cost_several_and_is_refused_whole(clock):
    five = Limit("tests:cost", 5, 60)
    start = clock["t"]
    assert rate_limits_take([five], cost=2).allowed
    clock["t"] = start + 5
    assert rate_limits_take([five], cost=4) == Decision(False, five, 55)  # one of the first two must leave
    assert rate_limits_take([five], cost=3).allowed
    assert rate_limits_take([five], cost=1) == Decision(False, five, 55)
    assert rate_limits_take([Limit("tests:cost-big", 2, 60)], cost=3) == Decision(
        False, Limit("tests:cost-big", 2, 60), 60)


def test_several_limits_are_taken_together_or_not_at_all():
    key, team = Limit("tests:key", 10, 60), Limit("tests:team", 3, 60)
    assert all(rate_limits_take([key, team]).allowed for _ in range(3))
    assert rate_limits_take([key, team]).refused_by == team
    # The refused calls used none of the key's budget: seven more fit in it alone.
    assert [rate_limits_take([key]).allowed for _ in range(8)] == [True] * 7 + [False]


def test_rate_limit_hit_counts_one_at_a_time_or_its_cost():
    assert [rate_limit_hit("tests:one", limit=2, window_s=60) for _ in range(3)] == [True, True, False]
    assert [rate_limit_hit("tests:four", limit=5, window_s=60, cost=4) for _ in range(2)] == [True, False]
