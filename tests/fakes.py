"""A scripted runner for protocol tests: exact tokens, exact frames, no model (STYLE.md 19)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from channels.layers import get_channel_layer

from inference.engines.base import FinishReason, GenerationResult, TokenEvent
from inference.protocol import InferenceRequest, Task
from inference.runners import Queued, Result, RunContext, RunnerEvent, Sources, Token, empty_usage
from inference.worker import InferenceWorker


def scripted_runner(tokens: tuple[str, ...] = ("Dry", " feet", " ahead"), *, delay_s: float = 0.05,
                    queued: tuple[int, ...] = (), finish_reason: str = "length"):
    """A generate runner that waits in the queue at ``queued`` positions, then writes ``tokens``."""

    async def run(request: InferenceRequest, context: RunContext) -> AsyncIterator[RunnerEvent]:
        run.requests.append(request)
        for position in queued:
            yield Queued(position)
        written: list[str] = []
        for token in tokens(request) if callable(tokens) else tokens:
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


#: Passages a scripted answer runner "finds" (the shape of the answer runner's Sources items).
ANSWER_SOURCES = (
    {"n": 1, "id": 101, "title": "How much does shipping cost?", "score": 0.82, "source_row": 2,
     "text": "Shipping is free on orders over 50 €. Below that, standard delivery costs 4.95 € and express 9.95 €."},
    {"n": 2, "id": 102, "title": "How long does delivery take?", "score": 0.61, "source_row": 3,
     "text": "Standard delivery takes 2 to 4 working days. Express orders placed before 14:00 arrive the next day."},
)


def scripted_answer_runner(tokens: tuple[str, ...] = ("Standard delivery", " costs 4.95 €", " [1]."), *,
                           sources: tuple[dict, ...] = ANSWER_SOURCES, cited: tuple[int, ...] = (1,),
                           best_score=0.82, delay_s: float = 0.05):
    """An answer runner as QA_CONTRACT.md says it behaves: Sources first, then tokens and a Result with citations,
    or, when ``best_score`` is under the request's threshold, the product's "I don't know" sentence (and its
    handoff line) as one token and an abstained Result. ``tokens`` and ``best_score`` may be functions of the
    request (a browser journey answers each question differently).
    """

    async def run(request: InferenceRequest, context: RunContext) -> AsyncIterator[RunnerEvent]:
        run.requests.append(request)
        retrieval = request.retrieval or {}
        items = [dict(item) for item in sources][: retrieval.get("top_k", len(sources))]
        yield Sources(items)
        await asyncio.sleep(delay_s)  # the sources frame leaves before any token
        score = best_score(request) if callable(best_score) else best_score
        threshold = retrieval.get("threshold", 0.35)
        usage = empty_usage(duration_s=0.01, finish_reason="eos")
        if score < threshold:
            text = " ".join(part for part in (retrieval.get("abstain_text", ""), retrieval.get("handoff", "")) if part)
            yield Token(text)
            yield Result("stop", {"text": text, "citations": [], "abstained": True, "best_score": score,
                                  "threshold": threshold}, {**usage, "finish_reason": "stop"})
            return
        written: list[str] = []
        for token in tokens(request) if callable(tokens) else tokens:
            if context.cancelled:
                break
            written.append(token)
            yield Token(token)
            await asyncio.sleep(delay_s)
        citations = [{"n": item["n"], "id": item["id"], "title": item["title"]} for item in items if item["n"] in cited]
        usage.update(prompt_tokens=40, completion_tokens=len(written), total_tokens=40 + len(written))
        yield Result("eos", {"text": "".join(written), "citations": citations, "abstained": False,
                             "best_score": score, "threshold": threshold}, usage)

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


class ScriptedHandle:
    """What Scheduler.submit returns, writing ``tokens`` ``delay_s`` apart (a model that does what the test says);
    ``request`` is kept for the test to read what was submitted."""

    def __init__(self, tokens, *, delay_s: float = 0.0, prompt_tokens: int = 50, request=None):
        self.tokens, self.delay_s, self.prompt_tokens, self.request = tokens, delay_s, prompt_tokens, request
        self.cancelled = False

    def cancel(self):
        self.cancelled = True

    async def __aiter__(self):
        written = []
        for token in self.tokens:
            if self.cancelled:
                break
            written.append(token)
            yield TokenEvent(token, ())
            await asyncio.sleep(self.delay_s)
        reason = FinishReason.CANCELLED if self.cancelled else FinishReason.EOS
        yield GenerationResult(reason, "".join(written), self.prompt_tokens, len(written), 0.01, 0.02)
