"""Fixed-window rate limits on the shared cache (Redis in production), atomic across processes."""

from __future__ import annotations

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
