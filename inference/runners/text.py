"""Text from a language model, for every runner that writes some (generate, answer, pitches, zero-shot labels).

``scheduled`` is the one path from messages to scheduler events, and ``written`` the one choice between the
version's remote engine and this studio's scheduler. No runner is registered here, so any runner module may
import this one without registering the generate runner a second time (test settings swap it for a script).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import replace

from inference.engines.base import GenerationParams, GenerationRequest, GenerationResult, QueuedEvent, TokenEvent
from inference.protocol import InferenceRequest
from inference.runners import Queued, Result, RunContext, RunnerEvent, Token, empty_usage
from studio import timeline

PARAM_NAMES = set(GenerationParams.__dataclass_fields__)


def scheduler_for(model: str, adapter: str | None):
    from inference.runtime import scheduler_for as shared  # loads the engine module on first use only

    return shared(model, adapter)


async def running_scheduler(model: str, adapter: str | None):
    """The model's shared scheduler; only the first request of a model waits in a thread while it loads.

    Every later one takes it straight from the event loop: a trip through a thread, before the first token,
    waits to be scheduled on a busy machine.
    """
    from inference.runtime import scheduler_running

    if scheduler_running(model, adapter) is not None:
        return scheduler_for(model, adapter)  # made already: a dictionary lookup
    return await asyncio.to_thread(scheduler_for, model, adapter)


def generation_params(request: InferenceRequest) -> GenerationParams:
    return GenerationParams(**{k: v for k, v in (request.params or {}).items() if k in PARAM_NAMES})


async def scheduled(request: InferenceRequest, context: RunContext,
                    messages: list[dict[str, str]] | None = None) -> AsyncIterator[RunnerEvent]:
    """``messages`` (default: the request's) through the shared scheduler of the request's model: Queued and
    Token events, then one Result. Cancelling ``context`` (or closing this iterator early) stops the sequence."""
    started = time.monotonic()
    try:
        params = generation_params(request)
        scheduler = await running_scheduler(request.model, request.adapter)
        handle = scheduler.submit(GenerationRequest(messages=messages if messages is not None else
                                                    (request.messages or []), params=params,
                                                    request_id=context.request_id))
        timeline.mark(context.request_id, "runner.submit")
    except Exception as exc:  # a bad model id or a broken install must reach the person as words
        yield Result("error", {"text": ""}, empty_usage(duration_s=time.monotonic() - started,
                                                        finish_reason="error"), error=str(exc))
        return
    context.on_cancel(handle.cancel)
    finished = False
    try:
        async for event in handle:
            if isinstance(event, QueuedEvent):
                yield Queued(event.position)
            elif isinstance(event, TokenEvent):
                yield Token(event.text)
            elif isinstance(event, GenerationResult):
                finished = True
                yield Result(str(event.finish_reason), {"text": event.text}, event.usage(),
                             error=event.error_message)
                return
    finally:
        if not finished:  # the caller stopped listening: free the batch slot now
            handle.cancel()


def written(request: InferenceRequest, context: RunContext,
            messages: list[dict[str, str]] | None = None) -> AsyncIterator[RunnerEvent]:
    """The request's text from the version's remote engine when it names one (an allowed OpenAI-compatible
    server), else from this studio's scheduler: the one choice every task that writes text makes."""
    if request.remote:
        from inference.engines.remote import remote_generate

        return remote_generate(request if messages is None else replace(request, messages=messages), context)
    return scheduled(request, context, messages)
