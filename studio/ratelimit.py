"""Fixed-window rate limits on the shared cache (Redis in production), atomic across processes."""

from __future__ import annotations

import math
import time

from django.core.cache import cache


def rate_limit_hit(key: str, *, limit: int, window_s: int, cost: int = 1) -> bool:
    """Count ``cost`` hits; True while ``key`` has made at most ``limit`` hits in this window."""
    window = int(time.time() // window_s)
    bucket = f"ratelimit:{key}:{window}"
    cache.add(bucket, 0, timeout=window_s + 1)  # add is atomic: only the first caller creates it
    try:
        return cache.incr(bucket, cost) <= limit
    except ValueError:  # expired between add and incr
        cache.add(bucket, cost, timeout=window_s + 1)
        return cost <= limit


def rate_limit_wait_s(key: str, *, limit: int, window_s: int) -> int:
    """Count one hit like ``rate_limit_hit``; 0 when allowed, else the seconds until this window ends."""
    if rate_limit_hit(key, limit=limit, window_s=window_s):
        return 0
    return max(1, math.ceil(window_s - time.time() % window_s))


# Growing delays: after a few free failures, each further failure shuts ``key`` for twice as long as the
# one before (up to a cap). Attempts refused while shut are not counted, so the delays stay predictable.


def backoff_wait_s(key: str) -> int:
    """Seconds ``key`` must still wait before its next attempt; 0 when it may try now."""
    until = cache.get(f"backoff:until:{key}")
    return max(0, math.ceil(until - time.time())) if until else 0


def backoff_failure(key: str, *, free: int, first_delay_s: int, max_delay_s: int, forget_s: int) -> int:
    """Count one failure of ``key``; returns the delay it now has to wait (0 while within ``free``).

    The count is forgotten ``forget_s`` after the first failure.
    """
    counter = f"backoff:failures:{key}"
    cache.add(counter, 0, timeout=forget_s)
    try:
        failures = cache.incr(counter)
    except ValueError:  # expired between add and incr
        cache.add(counter, 1, timeout=forget_s)
        failures = 1
    if failures <= free:
        return 0
    delay = min(max_delay_s, first_delay_s * 2 ** min(failures - free - 1, 30))
    cache.set(f"backoff:until:{key}", time.time() + delay, timeout=delay + 1)
    return delay


def backoff_clear(key: str) -> None:
    cache.delete_many([f"backoff:failures:{key}", f"backoff:until:{key}"])
