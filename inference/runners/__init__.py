"""The worker's task → runner registry: one runner per task (ARCHITECTURE.md "Product kinds are typed plugins").

A runner takes an ``InferenceRequest`` and yields events: ``Queued`` while it waits for a slot,
``Sources`` (answer task, before any token), ``Token``s, and always ends with one ``Result`` whose
``payload`` is the kind's result, relayed unread to every transport. Runner modules are listed in
settings.INFERENCE_RUNNER_MODULES and register themselves with ``@runner(Task.X)``.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from inference.protocol import InferenceRequest, Task


@dataclass(frozen=True)
class Queued:
    position: int  # requests ahead of this one


@dataclass(frozen=True)
class Sources:
    items: list[dict[str, Any]]


@dataclass(frozen=True)
class Token:
    text: str


@dataclass(frozen=True)
class Result:
    """How a request ended: ``finish_reason`` (eos, length, stop, cancelled, error, time_limit), the payload."""

    finish_reason: str
    payload: dict[str, Any]
    usage: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def text(self) -> str:
        return str(self.payload.get("text", ""))


RunnerEvent = Queued | Sources | Token | Result


class RunContext:
    """What a runner gets besides its request: a way to hear that the client cancelled."""

    def __init__(self, request_id: str) -> None:
        self.request_id = request_id
        self.cancelled = False
        self._callbacks: list[Callable[[], None]] = []

    def on_cancel(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` when the client cancels (at once if it already has)."""
        if self.cancelled:
            callback()
        else:
            self._callbacks.append(callback)

    def cancel(self) -> None:
        if not self.cancelled:
            self.cancelled = True
            for callback in self._callbacks:
                callback()


Runner = Callable[[InferenceRequest, RunContext], AsyncIterator[RunnerEvent]]

_RUNNERS: dict[Task, Runner] = {}
_loaded = False
_lock = threading.Lock()


def runner(task: Task) -> Callable[[Runner], Runner]:
    """Decorator: ``fn`` runs every request of ``task``."""

    def register(fn: Runner) -> Runner:
        if task in _RUNNERS and _RUNNERS[task] is not fn:
            raise ValueError(f"Two runners for the {task} task: {_RUNNERS[task].__module__} and {fn.__module__}.")
        _RUNNERS[task] = fn
        return fn

    return register


def get_runner(task: Task) -> Runner:
    global _loaded
    if not _loaded:
        with _lock:
            for module in settings.INFERENCE_RUNNER_MODULES:
                importlib.import_module(module)
            _loaded = True
    try:
        return _RUNNERS[task]
    except KeyError:
        raise LookupError(f"This inference worker has no runner for the {task} task; "
                          "add its module to INFERENCE_RUNNER_MODULES.") from None


def empty_usage(*, duration_s: float, finish_reason: str) -> dict[str, Any]:
    """Usage of a request that wrote no tokens (rank, classify, or one that failed before starting)."""
    return {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0, "time_to_first_token_s": None,
            "duration_s": duration_s, "finish_reason": finish_reason}
