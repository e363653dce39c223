"""The engine interface: requests in, token events out, always ending with one result.

Transport-free on purpose: consumers, the SSE view and the worker only iterate what an engine
yields, so the same core serves websockets, the REST API and tests.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # importing the engines package must not import torch
    from inference.engines.sampling import Sampler
    from inference.engines.sequence import SequenceState


class FinishReason(StrEnum):
    """Why a generation ended."""

    EOS = "eos"
    LENGTH = "length"
    STOP = "stop"
    CANCELLED = "cancelled"
    ERROR = "error"
    TIME_LIMIT = "time_limit"


@dataclass(frozen=True, slots=True)
class GenerationParams:
    """Sampling settings and per-request limits."""

    max_new_tokens: int = 256
    temperature: float = 0.7  # 0 means greedy
    top_p: float = 0.95
    top_k: int = 0  # 0 means no top-k filter
    repetition_penalty: float = 1.0
    stop: tuple[str, ...] = ()
    # Near the token limit, stop at the end of a sentence instead of cutting one (copy people publish).
    end_on_sentence: bool = False
    seed: int | None = None
    max_seconds: float = 60.0
    max_prompt_tokens: int = 1536

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0.0


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    """Chat messages (`{"role": ..., "content": ...}`) plus how to generate the reply."""

    messages: list[dict[str, str]]
    params: GenerationParams = field(default_factory=GenerationParams)
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)


@dataclass(frozen=True, slots=True)
class TokenEvent:
    """New text, and the ids of the tokens generated since the previous event."""

    text: str
    token_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class GenerationResult:
    """The last item of every stream: why it ended, the full text and usage figures."""

    finish_reason: FinishReason
    text: str
    prompt_tokens: int
    completion_tokens: int
    time_to_first_token_s: float | None
    duration_s: float
    error_message: str | None = None
    token_ids: tuple[int, ...] = ()
    queue_wait_s: float | None = None  # seconds it waited for a batch slot (None: never got one)

    def usage(self) -> dict[str, Any]:
        """The `usage` object of the `done` event."""
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "time_to_first_token_s": self.time_to_first_token_s,
            "duration_s": self.duration_s,
            "finish_reason": str(self.finish_reason),
        }


@dataclass(frozen=True, slots=True)
class QueuedEvent:
    """Every batch slot is taken: the request waits, with ``position`` requests ahead of it (0: next)."""

    position: int


GenerationEvent = TokenEvent | GenerationResult | QueuedEvent


class PromptTooLong(ValueError):
    """The prompt has more tokens than the model (or the request) accepts."""

    def __init__(self, prompt_tokens: int, max_tokens: int) -> None:
        self.prompt_tokens = prompt_tokens
        self.max_tokens = max_tokens
        super().__init__(
            f"The input is {prompt_tokens} tokens; this model accepts at most {max_tokens}. "
            "Shorten the input."
        )


class Engine(Protocol):
    """Anything that streams one request: token events, then exactly one GenerationResult."""

    def stream(
        self, request: GenerationRequest, cancel: threading.Event | None = None
    ) -> Iterator[GenerationEvent]: ...


class EngineBatch(Protocol):
    """Sequences decoded together, one forward pass per step. `items[i]` is the payload of row `i`.

    Logits come back as float32 torch tensors on the CPU or the model's device, so one sampler
    (inference/engines/sampling.py) serves every backend.
    """

    items: list[Any]

    def __len__(self) -> int: ...

    def add(self, item: Any, prompt_ids: Sequence[int]) -> Any:
        """Prefill the prompt in a free row and join; return the last position's logits `[vocab]`."""

    def remove(self, item: Any) -> None:
        """Leave the batch and free the row's cache at once."""

    def step(self, token_ids: Sequence[int]) -> Any:
        """Feed each row its last token (in `items` order); return logits `[rows, vocab]`.

        They may be a view of the backend's buffer, valid until the next `step`, `add` or `remove`:
        sample from them at once (llama.cpp's are, to save a copy per token).
        """


class BatchEngine(Protocol):
    """What the continuous-batching scheduler calls; `torch` and `llamacpp` implement it.

    `prepare` may run on any thread (the scheduler tokenises off its decode thread); the batch
    is used from one thread only.
    """

    backend: str  # "torch" | "llamacpp"
    threads: int | None  # CPU threads a decode step uses (None: the backend's own choice)
    eos_token_ids: frozenset[int]

    def prepare(
        self, request: GenerationRequest, cancel: threading.Event | None = None, started_at: float | None = None
    ) -> SequenceState: ...

    def new_batch(self, max_rows: int) -> EngineBatch: ...

    def sampler(self, params: GenerationParams) -> Sampler: ...
