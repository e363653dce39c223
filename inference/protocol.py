"""Messages between generation consumers and inference workers over the channel layer.

Consumers send ``generation.request`` to REQUEST_CHANNEL (any one worker takes it: the layer
delivers a plain channel's message to one receiver). The worker answers on the consumer's own
channel (never a group): ``generation.start`` (with the worker's channel, for cancelling),
``generation.token`` (coalesced text), then ``generation.done`` or ``generation.error``.
Delivery is at most once, so consumers time out when no ``start`` arrives.
"""

from __future__ import annotations

from typing import Any

REQUEST_CHANNEL = "inference.requests"
# Seconds a consumer waits for a worker to acknowledge a request before telling the person.
START_TIMEOUT_S = 5.0
# Tokens are gathered into one frame at most this often (seconds), so fast models do not flood sockets.
COALESCE_S = 0.03

ENGINE_UNAVAILABLE = "The model is not answering right now (no inference worker is running). Try again in a minute."


def request_message(
    *, request_id: str, generation_id: int, reply_channel: str, model: str, messages: list[dict],
    params: dict[str, Any], adapter: str | None = None, variant: int = 0,
) -> dict[str, Any]:
    return {
        "type": "generation.request", "request_id": request_id, "generation_id": generation_id,
        "reply_channel": reply_channel, "model": model, "adapter": adapter, "messages": messages,
        "params": params, "variant": variant,
    }


def cancel_message(request_id: str) -> dict[str, Any]:
    return {"type": "generation.cancel", "request_id": request_id}
