"""Training examples: a product kind's conversation → token ids through the model's chat template.

The loss covers the reply only: the prompt's tokens are masked, so the model learns what to answer,
not to repeat the question. Token ids are kept as compact int32 arrays (a big dataset stays small).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from products.kinds.base import TrainingConversation

IGNORE_INDEX = -100  # labels with this value add nothing to the loss (PyTorch's cross_entropy default)


@dataclass(frozen=True, slots=True)
class TokenizedExample:
    """One conversation as token ids; the first ``prompt_length`` ids are the prompt (no loss on them)."""

    input_ids: np.ndarray
    prompt_length: int

    @property
    def length(self) -> int:
        return len(self.input_ids)

    @property
    def target_tokens(self) -> int:
        return self.length - self.prompt_length


def prompt_ids(tokenizer: Any, messages: list[dict[str, str]]) -> list[int]:
    """The ids a generation request starts from: the same call the inference engine makes."""
    if tokenizer.chat_template:
        return list(tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, tokenize=True, return_dict=False
        ))
    text = "".join(f"{m['role']}: {m['content']}\n" for m in messages)
    return list(tokenizer(text + "assistant: ")["input_ids"])


def tokenize(tokenizer: Any, conversation: TrainingConversation, *, max_length: int) -> TokenizedExample | None:
    """Token ids of the whole conversation, reply last; None when the prompt alone fills ``max_length``."""
    prompt = prompt_ids(tokenizer, conversation.messages)
    full: list[int] = []
    if tokenizer.chat_template:
        full = list(tokenizer.apply_chat_template(
            [*conversation.messages, {"role": "assistant", "content": conversation.reply}],
            tokenize=True, return_dict=False,
        ))
    if full[: len(prompt)] != prompt:
        # A template that renders the prompt differently once a reply follows: append the reply ourselves.
        reply = tokenizer(conversation.reply, add_special_tokens=False)["input_ids"]
        full = prompt + list(reply) + ([tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else [])
    if len(prompt) >= max_length - 1:
        return None
    return TokenizedExample(np.asarray(full[:max_length], dtype=np.int32), len(prompt))


@dataclass(frozen=True)
class TokenizedSplit:
    examples: list[TokenizedExample]
    conversations: list[TrainingConversation]  # kept only when asked (the report's samples need them)
    too_long: int  # conversations whose prompt alone was longer than the maximum length

    @property
    def tokens(self) -> int:
        return sum(example.length for example in self.examples)


def tokenize_all(
    tokenizer: Any, items: Iterable[TrainingConversation], *, max_length: int, keep_conversations: bool = False
) -> TokenizedSplit:
    examples: list[TokenizedExample] = []
    kept: list[TrainingConversation] = []
    too_long = 0
    for conversation in items:
        tokenized = tokenize(tokenizer, conversation, max_length=max_length)
        if tokenized is None:
            too_long += 1
        else:
            examples.append(tokenized)
            if keep_conversations:
                kept.append(conversation)
    return TokenizedSplit(examples, kept, too_long)
