"""Versions of one base model take turns on it: one forward pass (decode step) at a time, in arrival order."""

from __future__ import annotations

import threading


class TurnLock:
    """A lock granted in arrival order, so versions decoding on one model alternate steps.

    A plain Lock lets the thread that just released it take it again before a waiting one wakes.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._next_ticket = 0
        self._serving = 0

    def __enter__(self) -> None:
        with self._cond:
            ticket = self._next_ticket
            self._next_ticket += 1
            while ticket != self._serving:
                self._cond.wait()

    def __exit__(self, *exc: object) -> None:
        with self._cond:
            self._serving += 1
            self._cond.notify_all()
