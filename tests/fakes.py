"""A scripted runner for protocol tests: exact tokens, exact frames, no model (STYLE.md 19)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from channels.layers import get_channel_layer

from inference.protocol import InferenceRequest, Task
from inference.runners import Queued, Result, RunContext, RunnerEvent, Token, empty_usage
from inference.worker import InferenceWorker


def scripted_runner(tokens: tuple[str, ...] = ("Dry", " feet", " ahead"), *, delay_s: float = 0.05,
                    queued: tuple[int, ...] = (), finish_reason: str = "length"):
    """A generate runner that waits in the queue at ``queued`` positions, then writes ``tokens``."""

    async def run(request: InferenceRequest, context: RunContext) -> AsyncIterator[RunnerEvent]:
        run.requests.append(request)
        for position in queued:
            yield Queued(position)
        written: list[str] = []
        for token in tokens:
            if context.cancelled:
                break
            written.append(token)
            yield Token(token)
            await asyncio.sleep(delay_s)  # longer than the worker's 30 ms coalescing: one frame per token
        reason = "cancelled" if context.cancelled else finish_reason
        usage = empty_usage(duration_s=0.01, finish_reason=reason)
        usage.update(prompt_tokens=5, completion_tokens=len(written), total_tokens=5 + len(written))
        yield Result(reason, {"text": "".join(written)}, usage)

    run.requests = []
    return run


@contextlib.asynccontextmanager
async def fake_worker(runner=None, task: Task = Task.GENERATE):
    """A real InferenceWorker on the test's loop whose ``task`` runner is scripted."""
    runner = runner or scripted_runner()
    worker = asyncio.create_task(InferenceWorker(get_channel_layer(), runners={task: runner}).run())
    try:
        yield runner
    finally:
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)
