"""The generate task: chat messages through the continuous-batching scheduler (or the version's remote
engine), token by token. The path itself lives in inference/runners/text.py, shared with the other runners."""

from __future__ import annotations

from collections.abc import AsyncIterator

from inference.protocol import InferenceRequest, Task
from inference.runners import RunContext, RunnerEvent, runner
from inference.runners.text import written


@runner(Task.GENERATE)
async def generate(request: InferenceRequest, context: RunContext) -> AsyncIterator[RunnerEvent]:
    async for event in written(request, context):
        yield event
