"""Reused threads for Django's HTTP requests under ASGI, so a request's database connection is kept.

Django's ASGI handler runs each request's sync code (middleware, sync views, the ORM) in a thread of its
own, made for that request and ended after it (asgiref's ThreadSensitiveContext). Database connections
are per thread, so CONN_MAX_AGE keeps nothing under ASGI: every request that touches the database
opened a new PostgreSQL connection (a backend process forked and authenticated, ~10 ms on the
two-core host, measured on the REST generate path) and dropped it at the end. ``RequestThreads`` gives
each request one thread from a pool of single-thread executors instead and takes it back afterwards, as
a WSGI server reuses its threads: one request at a time per thread, as before, and as many threads as
requests in flight; Django's request_started / request_finished handling (CONN_MAX_AGE, health checks,
closing a broken connection) then works as it does under WSGI.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext
from django.db import connections

#: Idle request threads kept for the next requests (a burst beyond it gets new threads, ended afterwards).
IDLE_THREADS = 8


class RequestThreads:
    """ASGI middleware around Django's HTTP application: each request's sync code runs on a reused thread."""

    def __init__(self, app, *, idle: int = IDLE_THREADS) -> None:
        self.app, self.idle = app, idle
        self.free: list[ThreadPoolExecutor] = []  # last in, first out: the warmest connection goes first

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        executor = self.free.pop() if self.free else ThreadPoolExecutor(1, thread_name_prefix="http-request")
        try:
            # Django's own ThreadSensitiveContext inside sees this one and uses its executor.
            async with ThreadSensitiveContext(executor=executor):
                result = await self.app(scope, receive, send)
        except BaseException:
            # A cancelled request (daphne cancels one some seconds after its client left) may still be running
            # its sync code on the thread: pooled, it would hold up the next, unrelated request.
            _retire(executor)
            raise
        if len(self.free) < self.idle:
            self.free.append(executor)
        else:
            _retire(executor)
        return result

    def close(self) -> None:
        """Close the idle threads' database connections and end the threads (a test's teardown)."""
        while self.free:
            _retire(self.free.pop(), wait=True)


def _retire(executor: ThreadPoolExecutor, *, wait: bool = False) -> None:
    executor.submit(connections.close_all)  # a connection is the thread's own: closed from that thread
    executor.shutdown(wait=wait)
