"""The ``remote`` backend: a generation streamed from an allowed OpenAI-compatible server (vLLM, llama.cpp's server).

A version that names a remote engine (ProductConfig.remote_engine) sends ``request.remote``; the generate
runner hands such requests here instead of to the local scheduler. Same events as the local path (Token…,
then one Result with the same usage dict), so the worker coalesces and relays them unchanged. Stop closes
the HTTP stream, which ends the request on the remote server too (vLLM aborts a request whose client
went away). The API key arrives encrypted and is decrypted only here, just before it is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import weakref
from collections.abc import AsyncIterator
from typing import Any

from inference.protocol import InferenceRequest
from inference.runners import Result, RunContext, RunnerEvent, Token, empty_usage
from products.remote_engines import (
    RemoteEngineError,
    api_key_decrypt,
    failure_message,
    http_client,
    http_timeout,
    remote_engine_url,
    request_headers,
    status_message,
)
from studio import timeline

#: OpenAI's finish reasons in the studio's words ("stop" is the model ending or a stop string: both end cleanly).
#: Seconds the worker waits after ``data: [DONE]`` for the stream's end, to keep the connection alive.
DRAIN_AFTER_DONE_S = 1.0
FINISH_REASONS = {"stop": "eos", "length": "length", "content_filter": "stop", "tool_calls": "eos"}
_END = object()
#: One kept-open client per event loop (httpx pools connections per host inside it), never one per request: a new
#: client builds an SSL context (tens of ms, more on a busy CPU) and a new connection, both before the first token.
_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()


def pooled_client():
    """This event loop's httpx client for remote engines (an async client belongs to the loop that made it)."""
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None or client.is_closed:
        client = _clients[loop] = http_client()
    return client


def chat_body(request: InferenceRequest) -> dict[str, Any]:
    """The /chat/completions body for ``request``: messages and the sampling settings OpenAI's API defines.

    Studio-only settings (repetition_penalty, end_on_sentence) are left out: OpenAI's own API refuses
    unknown fields, and the server's defaults stand in for them.
    """
    remote, params = request.remote or {}, request.params
    body: dict[str, Any] = {
        "model": remote.get("model", ""), "messages": request.messages or [], "stream": True,
        "stream_options": {"include_usage": True},
    }
    if "max_new_tokens" in params:
        body["max_tokens"] = int(params["max_new_tokens"])
    for name in ("temperature", "top_p", "seed"):
        if params.get(name) is not None:
            body[name] = params[name]
    if params.get("stop"):
        body["stop"] = list(params["stop"])[:4]  # OpenAI's limit
    return body


async def remote_generate(request: InferenceRequest, context: RunContext) -> AsyncIterator[RunnerEvent]:
    """Stream ``request`` from its remote engine: Token events, then one Result (errors in words, never raised)."""
    started = time.monotonic()
    name = (request.remote or {}).get("engine", "")
    try:
        url = remote_engine_url(name)
        api_key = api_key_decrypt((request.remote or {}).get("api_key", ""), engine=name)
    except RemoteEngineError as exc:
        yield _failed(str(exc), started)
        return
    max_seconds = float(request.params.get("max_seconds") or 90.0)
    events: asyncio.Queue = asyncio.Queue()
    pump = asyncio.create_task(_pump(url=url, name=name, body=chat_body(request), api_key=api_key, events=events,
                                     request_id=context.request_id))
    context.on_cancel(pump.cancel)  # Stop: cancelling the task closes the HTTP stream
    text: list[str] = []
    usage: dict[str, Any] = {}
    first_token_at: float | None = None
    finish_reason, error = "eos", None
    try:
        while True:
            remaining = started + max_seconds - time.monotonic()
            try:
                item = await asyncio.wait_for(_next(events, pump), max(remaining, 0.001))
            except TimeoutError:
                finish_reason = "time_limit"
                break
            if item is _END:
                if context.cancelled:
                    finish_reason = "cancelled"
                break
            kind, value = item
            if kind == "token":
                if first_token_at is None:
                    first_token_at = time.monotonic()
                    timeline.mark(context.request_id, "first_token", at=first_token_at)
                text.append(value)
                yield Token(value)
            elif kind == "finish":
                finish_reason = FINISH_REASONS.get(value, "eos")
            elif kind == "usage":
                usage = value
            elif kind == "error":
                finish_reason, error = "error", value
                break
    finally:
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await pump
    duration = time.monotonic() - started
    prompt_tokens = int(usage.get("prompt_tokens") or 0)
    # Servers that ignore include_usage send no usage: then each streamed delta counts as one token.
    completion_tokens = int(usage.get("completion_tokens") or len(text))
    yield Result(finish_reason, {"text": "".join(text)}, {
        "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "time_to_first_token_s": None if first_token_at is None else first_token_at - started,
        "duration_s": duration, "finish_reason": finish_reason,
    }, error=error)


async def _next(events: asyncio.Queue, pump: asyncio.Task):
    """The pump's next item; _END once it is done (finished, failed or cancelled) and nothing is left."""
    getter = asyncio.ensure_future(events.get())
    try:
        done, _ = await asyncio.wait({getter, pump}, return_when=asyncio.FIRST_COMPLETED)
        if getter in done:
            return getter.result()
    finally:
        if not getter.done():
            getter.cancel()
    return events.get_nowait() if not events.empty() else _END


async def _pump(*, url: str, name: str, body: dict[str, Any], api_key: str, events: asyncio.Queue,
                request_id: str = "") -> None:
    """POST the body and put ("token", text), ("finish", reason), ("usage", dict) or ("error", words) items."""
    try:
        timeline.mark(request_id, "remote.http_sent")
        # Stop cancels this task: leaving the stream unread closes its connection, so the remote ends the request.
        async with pooled_client().stream(
            "POST", f"{url}/chat/completions", json=body, headers=request_headers(api_key), timeout=http_timeout(),
        ) as response:
            timeline.mark(request_id, "remote.headers")
            if response.status_code != 200:
                raw = (await response.aread()).decode(errors="replace")
                try:
                    detail: Any = json.loads(raw)
                except ValueError:
                    detail = raw
                await events.put(("error", status_message(name, response.status_code, detail, model=body["model"])))
                return
            lines = response.aiter_lines()
            async for line in lines:
                item = _parse_line(name, line)
                if item is None:
                    continue
                if item == "done":
                    await _drain(lines)
                    return
                for event in item:
                    await events.put(event)
                    if event[0] == "error":
                        return
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # connect/read timeouts, refused connections, dropped streams: words, not a trace
        await events.put(("error", failure_message(name, exc)))


async def _drain(lines) -> None:
    """Read what follows ``[DONE]`` (normally at once the chunked body's end), so httpx keeps the connection for the
    next request instead of closing it unread (a TCP, on a real remote a TLS, handshake before every first token).

    Bounded: a server that holds the stream open past ``[DONE]`` costs at most ``DRAIN_AFTER_DONE_S``, and the
    generation still ends as written; its connection is then closed, as before.
    """
    with contextlib.suppress(Exception):
        async with asyncio.timeout(DRAIN_AFTER_DONE_S):
            async for _line in lines:
                pass


def _parse_line(name: str, line: str) -> list[tuple[str, Any]] | str | None:
    """One SSE line → the items it carries, "done" at ``data: [DONE]``, None for comments and blank lines."""
    if not line.startswith("data:"):
        return None
    data = line[5:].strip()
    if data == "[DONE]":
        return "done"
    try:
        chunk = json.loads(data)
    except ValueError:
        return [("error", f"The remote engine “{name}” sent something that is not an OpenAI stream.")]
    if not isinstance(chunk, dict):
        return None
    if "error" in chunk:
        return [("error", status_message(name, 502, chunk).replace("answered HTTP 502", "failed while writing"))]
    items: list[tuple[str, Any]] = []
    for choice in chunk.get("choices") or []:
        content = (choice.get("delta") or {}).get("content")
        if content:
            items.append(("token", content))
        if choice.get("finish_reason"):
            items.append(("finish", choice["finish_reason"]))
    if isinstance(chunk.get("usage"), dict):
        items.append(("usage", chunk["usage"]))
    return items


def _failed(message: str, started: float) -> Result:
    return Result("error", {"text": ""}, empty_usage(duration_s=time.monotonic() - started, finish_reason="error"),
                  error=message)
