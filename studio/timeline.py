"""Monotonic timestamps along one generation's way to its first token, for benchmarks (off by default).

With STUDIO_TTFT_TRACE naming a file (or ``enable(path)`` in a script), each process on the path (daphne
with its embedded worker, a separate inference worker, the remote engine's studio) appends one JSON line
per step: ``{"r": request id, "s": step, "t": time.monotonic()}``. Linux's monotonic clock is one clock
for every process on the machine, so steps written by different processes subtract. Off, a mark costs one
attribute test. Imports only the standard library: the web tier, the worker and the scheduler thread use it.

Steps, in the order a generation meets them (STEPS): the socket frame received, generation_start done
(rows, limits), the request handed to the channel layer, the worker's receive, its start frame sent, the
runner's hand-off (to the scheduler, or the remote engine's HTTP request), the first token computed
(scheduler) or read off the HTTP stream (remote), its frame handed to the channel layer by the worker,
received by the client, and sent on the websocket. A hop's mark is made before its send, so the hop's
time lands on the step after it.
"""

from __future__ import annotations

import json
import os
import statistics
import threading
import time
from collections.abc import Iterable

from studio import env

STEPS = (
    "ws.receive", "start.done", "request.send", "worker.receive", "worker.start_sent", "runner.submit",
    "scheduler.prepared", "scheduler.admit", "remote.http_sent", "remote.headers", "first_token",
    "worker.token_send", "client.token", "ws.token_sent",
)

_fd: int | None = None
_lock = threading.Lock()


def enable(path: str) -> None:
    """Append marks to ``path`` from now on (a benchmark calls it; processes it starts read STUDIO_TTFT_TRACE)."""
    global _fd
    with _lock:
        _fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)


def disable() -> None:
    """Stop appending marks (a test that enabled them)."""
    global _fd
    with _lock:
        if _fd is not None:
            os.close(_fd)
        _fd = None


def mark(request_id: str, step: str, at: float | None = None) -> None:
    """Record that ``request_id`` reached ``step`` now (or at monotonic time ``at``)."""
    if _fd is None:
        return
    line = json.dumps({"r": request_id, "s": step, "t": time.monotonic() if at is None else at}) + "\n"
    os.write(_fd, line.encode())  # one write on an O_APPEND file: lines from several processes never mix


def read(path: str) -> dict[str, dict[str, float]]:
    """{request id: {step: first time it was reached}} from a trace file."""
    steps: dict[str, dict[str, float]] = {}
    with open(path) as lines:
        for line in lines:
            item = json.loads(line)
            steps.setdefault(item["r"], {}).setdefault(item["s"], item["t"])
    return steps


def breakdown(traces: Iterable[dict[str, float]]) -> list[tuple[str, float, float]]:
    """(step, median ms from the step before, p95 ms) over ``traces``, for the steps they all reached."""
    traces = [t for t in traces if "ws.receive" in t]
    if not traces:
        return []
    common = [s for s in STEPS if all(s in t for t in traces)]
    rows = []
    for before, step in zip(common, common[1:], strict=False):
        gaps = sorted((t[step] - t[before]) * 1000 for t in traces)
        p95 = gaps[min(len(gaps) - 1, round(0.95 * (len(gaps) - 1)))]
        rows.append((f"{before} -> {step}", statistics.median(gaps), p95))
    return rows


def breakdown_lines(traces: Iterable[dict[str, float]]) -> list[str]:
    """``breakdown`` as printable lines."""
    return [f"      {name:<42} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms" for name, p50, p95 in breakdown(traces)]


if env.TTFT_TRACE:
    enable(env.TTFT_TRACE)
