"""The contract between the web tier and inference workers: typed requests and channel-layer messages.

A product kind's ``prepare`` builds an ``InferenceRequest`` (what the worker must do: which task,
model or artifact, messages, retrieval, query). ``inference.client.stream`` sends it to
REQUEST_CHANNEL (any one worker takes it: a plain channel's message goes to one receiver) and the
worker answers on the client's own channel (never a group):

    generation.start   {worker_channel}         the worker took it (the channel to cancel on)
    generation.queued  {position}               every slot is taken; requests ahead of this one
    generation.sources {items}                  answer task: the passages used, before any token
    generation.token   {text}                   coalesced text
    generation.done    {result, usage}          result is the kind's payload, relayed unread
    generation.error   {code, message}

Delivery is at most once, so clients time out when no ``start`` arrives
(settings.INFERENCE_START_TIMEOUT_S). Importing this module imports nothing heavy: the web tier uses it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

REQUEST_CHANNEL = "inference.requests"
# Tokens are gathered into one frame at most this often (seconds), so fast models do not flood sockets.
COALESCE_S = 0.03

ENGINE_UNAVAILABLE = "The model is not answering right now (no inference worker is running). Try again in a minute."

#: Events a transport relays, in the order they can come (ARCHITECTURE.md "One way to start a generation").
EVENTS = ("start", "queued", "sources", "token", "done", "error")


class Task(StrEnum):
    """What a worker does for a request; each task has one runner in the worker (inference/runners/)."""

    GENERATE = "generate"  # text from inputs: copywriting
    ANSWER = "answer"  # retrieve from a knowledge base, then write with citations: Q&A
    RANK = "rank"  # items for a user, an item or a session: recommendations
    CLASSIFY = "classify"  # a label and probabilities: classification


@dataclass(frozen=True)
class InferenceRequest:
    """Built by a kind's ``prepare`` (pure, no torch); crosses the channel layer as a dict."""

    task: Task
    model: str  # base model id, or the artifact a trained kind serves
    adapter: str | None = None  # a fine-tuned adapter's folder
    messages: list[dict[str, str]] | None = None  # generate / answer
    params: dict[str, Any] = field(default_factory=dict)  # GenerationParams fields: generate / answer
    retrieval: dict[str, Any] | None = None  # answer: index, top_k, threshold, the conversation to embed
    query: dict[str, Any] | None = None  # rank: {"user"} | {"items"} | {"item"}, k; classify: {"texts"}
    artifact: str | None = None  # a trained artifact's folder (classifier, recommender)
    # generate / answer: stream from an allowed remote OpenAI-compatible engine instead of this studio's scheduler:
    # {"engine": name in STUDIO_REMOTE_ENGINES, "model": its model or adapter name, "api_key": still encrypted}
    remote: dict[str, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["task"] = str(self.task)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InferenceRequest:
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        known["task"] = Task(known["task"])
        return cls(**known)


def request_message(*, request_id: str, generation_id: int, reply_channel: str, request: InferenceRequest) -> dict:
    return {
        "type": "generation.request", "request_id": request_id, "generation_id": generation_id,
        "reply_channel": reply_channel, "request": request.to_dict(),
    }


def cancel_message(request_id: str) -> dict[str, Any]:
    return {"type": "generation.cancel", "request_id": request_id}
