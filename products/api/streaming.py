"""Server-Sent Events: the websocket's events as ``event:``/``data:`` frames over HTTP."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from django.http import StreamingHttpResponse
from rest_framework.renderers import BaseRenderer

EVENT_STREAM = "text/event-stream"


def sse_frame(data: Any, *, event: str | None = None) -> bytes:
    """One SSE frame; ``data`` is JSON-encoded unless it is already a string (e.g. ``[DONE]``)."""
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n".encode()


def sse_event_schema(*, events: list[str] | None, data: str) -> dict[str, Any]:
    """The OpenAPI schema of one Server-Sent Event as a client parses it: optional ``event``, ``data`` text."""
    event: dict[str, Any] = {"type": "string"}
    if events:
        event["enum"] = events
    return {
        "type": "object",
        "required": ["data"],
        "properties": {"event": event, "data": {"type": "string", "description": data}},
    }


def sse_response(frames: AsyncIterator[bytes], *, status: int = 200) -> StreamingHttpResponse:
    response = StreamingHttpResponse(frames, content_type=f"{EVENT_STREAM}; charset=utf-8", status=status)
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx would otherwise hold tokens back until its buffer fills
    return response


def wants_event_stream(request) -> bool:
    accept = request.headers.get("Accept", "")
    return EVENT_STREAM in accept and "application/json" not in accept


class EventStreamRenderer(BaseRenderer):
    """Lets clients send ``Accept: text/event-stream``; an error before streaming is one ``error`` event."""

    media_type = EVENT_STREAM
    format = "sse"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        if data is None:
            return b""
        if isinstance(data, dict) and "detail" in data and len(data) == 1:
            data = {"event": "error", "code": getattr(data["detail"], "code", "error"), "message": str(data["detail"])}
        elif isinstance(data, dict):
            data = {"event": "error", "code": "invalid", "message": "The request is not valid.", "fields": data}
        return sse_frame(data, event="error")
