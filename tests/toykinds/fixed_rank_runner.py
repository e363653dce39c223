"""The worker side of the toy kind: rank the request's items by their order, with a reason each."""

from __future__ import annotations

from collections.abc import AsyncIterator

from inference.protocol import InferenceRequest, Task
from inference.runners import Result, RunContext, RunnerEvent, empty_usage, runner


@runner(Task.RANK)
async def fixed_rank(request: InferenceRequest, context: RunContext) -> AsyncIterator[RunnerEvent]:
    query = request.query or {}
    items = query["items"][: query["k"]]
    ranked = [{"id": item["id"], "title": item["title"], "score": round(1 - i / len(items), 2),
               "reason": f"A staff pick for {query['user']}"} for i, item in enumerate(items)]
    yield Result("eos", {"items": ranked}, empty_usage(duration_s=0.0, finish_reason="eos"))
