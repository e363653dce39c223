"""Sliding-window rate limits on the shared cache, atomic across every web process.

Each limit is a log of the last ``window_s`` seconds of hits: a Redis sorted set (scored by time)
when the cache is Redis, checked and written by one Lua script, so concurrent requests in any
number of processes can never pass a limit together. Several limits are taken at once or not at
all (a call refused by its team's limit uses none of its key's), and a hit may cost more than one
(a playground press that writes four variants costs four). A refusal says when to retry: when
enough of the oldest hits leave the window.

Without Redis (the one-process embedded studio, tests) the same log lives in the local-memory
cache, guarded by a process lock: that cache is per process anyway.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache


@dataclass(frozen=True)
class Limit:
    """At most ``limit`` hits per ``window_s`` seconds for ``key``."""

    key: str
    limit: int
    window_s: int


@dataclass(frozen=True)
class Decision:
    """Whether the hits were taken; if not, which limit refused and in how many seconds to retry."""

    allowed: bool
    refused_by: Limit | None = None
    retry_after_s: int = 0


# KEYS: one sorted set per limit. ARGV: now (ms), cost, a member prefix unique to this call, then a
# limit and a window (ms) per key. Returns {0, 0} when taken, else {index of the refusing key, ms to wait}.
_TAKE_SCRIPT = """
local now, cost, prefix = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
for i, key in ipairs(KEYS) do
  local limit, window = tonumber(ARGV[2 + 2 * i]), tonumber(ARGV[3 + 2 * i])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local count = redis.call('ZCARD', key)
  if count + cost > limit then
    local wait = window
    if cost <= limit then
      local oldest = redis.call('ZRANGE', key, count + cost - limit - 1, count + cost - limit - 1, 'WITHSCORES')
      wait = tonumber(oldest[2]) + window - now
    end
    return {i, wait}
  end
end
for i, key in ipairs(KEYS) do
  for n = 1, cost do
    redis.call('ZADD', key, now, prefix .. ':' .. n)
  end
  redis.call('PEXPIRE', key, tonumber(ARGV[3 + 2 * i]))
end
return {0, 0}
"""

_local_lock = threading.Lock()
_script = None  # the registered Lua script (its SHA), run with whichever pooled client a call gets


def _seconds(wait_s: float) -> int:
    return max(1, math.ceil(wait_s))


def _redis_client():
    """The default cache's Redis client, or None when the cache is not Redis."""
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        return None
    return backend._cache.get_client(write=True)  # Django's RedisCache exposes no public client accessor


def _take_redis(client, limits: Sequence[Limit], cost: int, now: float) -> Decision:
    global _script
    if _script is None:
        _script = client.register_script(_TAKE_SCRIPT)
    args: list = [int(now * 1000), cost, uuid.uuid4().hex]
    for limit in limits:
        args += [limit.limit, limit.window_s * 1000]
    keys = [cache.make_key(f"ratelimit:{limit.key}") for limit in limits]
    index, wait_ms = _script(keys=keys, args=args, client=client)
    if not index:
        return Decision(True)
    return Decision(False, limits[int(index) - 1], _seconds(int(wait_ms) / 1000))


def _take_local(limits: Sequence[Limit], cost: int, now: float) -> Decision:
    with _local_lock:
        logs = []
        for limit in limits:
            key = f"ratelimit:{limit.key}"
            hits = sorted(hit for hit in cache.get(key, []) if hit > now - limit.window_s)
            excess = len(hits) + cost - limit.limit  # the oldest hits that must leave the window first
            if excess > 0:
                wait = limit.window_s if cost > limit.limit else hits[excess - 1] + limit.window_s - now
                return Decision(False, limit, _seconds(wait))
            logs.append((key, hits))
        for (key, hits), limit in zip(logs, limits, strict=True):
            cache.set(key, hits + [now] * cost, timeout=limit.window_s + 1)
    return Decision(True)


def rate_limits_take(limits: Sequence[Limit], *, cost: int = 1) -> Decision:
    """Take ``cost`` hits from every limit, or from none when any of them would pass its limit."""
    if not limits:
        return Decision(True)
    now = time.time()
    client = _redis_client()
    if client is not None:
        return _take_redis(client, limits, cost, now)
    return _take_local(limits, cost, now)


def rate_limit_hit(key: str, *, limit: int, window_s: int, cost: int = 1) -> bool:
    """Take ``cost`` hits; True while ``key`` has made at most ``limit`` hits in the last ``window_s`` seconds."""
    return rate_limits_take([Limit(key, limit, window_s)], cost=cost).allowed


def rate_limit_wait_s(key: str, *, limit: int, window_s: int) -> int:
    """Take one hit like ``rate_limit_hit``; 0 when allowed, else the seconds until one may be taken."""
    return rate_limits_take([Limit(key, limit, window_s)]).retry_after_s


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
