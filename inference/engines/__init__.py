"""Generation engines. Importing this package never imports torch."""

from __future__ import annotations

from inference.engines.base import (
    Engine,
    FinishReason,
    GenerationEvent,
    GenerationParams,
    GenerationRequest,
    GenerationResult,
    PromptTooLong,
    QueuedEvent,
    TokenEvent,
)

__all__ = [
    "Engine",
    "FinishReason",
    "GenerationEvent",
    "GenerationParams",
    "GenerationRequest",
    "GenerationResult",
    "PromptTooLong",
    "QueuedEvent",
    "TokenEvent",
]
