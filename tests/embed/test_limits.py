"""Who a visitor is for rate limits, and the atomic counters behind every limit (products/embed/limits.py)."""

from __future__ import annotations

import threading

import pytest

from products.embed.limits import client_address
from studio.ratelimit import rate_limit_hit

PROXY = ["10.0.0.0/8"]


def test_forwarded_for_from_an_untrusted_peer_is_ignored():
    assert client_address("198.51.100.7", "203.0.113.9", trusted_proxies=[]) == "198.51.100.7"
    assert client_address("198.51.100.7", "203.0.113.9", trusted_proxies=PROXY) == "198.51.100.7"


def test_behind_a_trusted_proxy_the_rightmost_address_it_did_not_add_is_the_visitor():
    # The visitor may write anything on the left; the proxy appends the address it saw on the right.
    assert client_address("10.0.0.5", "6.6.6.6, 198.51.100.7, 10.0.0.9", trusted_proxies=PROXY) == "198.51.100.7"
    assert client_address("10.0.0.5", "not-an-address", trusted_proxies=PROXY) == "not-an-address"
    assert client_address("10.0.0.5", None, trusted_proxies=PROXY) == "10.0.0.5"


def test_an_unknown_peer_is_one_visitor_not_a_free_pass():
    assert client_address(None, "203.0.113.9", trusted_proxies=[]) == "unknown"


def test_fifty_threads_against_a_limit_of_ten_get_exactly_ten_hits_through(pinned_rate_window):
    """The shared cache's increment is atomic (Redis INCR in CI): no lost updates under contention."""
    start = threading.Barrier(50)
    results: list[bool] = []
    lock = threading.Lock()

    def hit() -> None:
        start.wait()
        allowed = rate_limit_hit("tests:concurrency", limit=10, window_s=3600)
        with lock:
            results.append(allowed)

    threads = [threading.Thread(target=hit) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (results.count(True), results.count(False)) == (10, 40)


@pytest.mark.parametrize("limit", [1, 3])
def test_a_new_window_starts_a_new_count(limit, monkeypatch):
    import studio.ratelimit

    clock = {"now": 7200.0}
    monkeypatch.setattr(studio.ratelimit, "time", type("Clock", (), {"time": staticmethod(lambda: clock["now"])}))
    first = [rate_limit_hit("tests:windows", limit=limit, window_s=60) for _ in range(limit + 1)]
    clock["now"] += 60
    second = rate_limit_hit("tests:windows", limit=limit, window_s=60)
    assert first == [True] * limit + [False] and second is True
