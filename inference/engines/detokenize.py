"""Incremental detokenisation with a constant cost per token.

Decoding a token on its own loses the spaces and merges that depend on its neighbours, and
re-decoding the whole output at every step (transformers' TextIteratorStreamer) costs O(n) per
token. Like text-generation-inference (`Model.decode_token`) and vLLM
(`detokenize_incrementally`), this decodes a short window twice: the tokens already shown for
context (prefix..read) and the same window plus the new tokens; the difference is the new text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

# Prompt tokens kept as left context, so the first generated token decodes with its spacing.
CONTEXT_TOKENS = 5
REPLACEMENT_CHAR = "\ufffd"


class Decoder(Protocol):
    def decode(self, token_ids: list[int], skip_special_tokens: bool = ...) -> str: ...


class IncrementalDetokenizer:
    """Turns a stream of token ids into a stream of text fragments."""

    def __init__(
        self,
        tokenizer: Decoder,
        prompt_ids: Sequence[int] = (),
        *,
        skip_special_tokens: bool = True,
    ) -> None:
        self.tokenizer = tokenizer
        self.skip_special_tokens = skip_special_tokens
        self._ids: list[int] = list(prompt_ids[-CONTEXT_TOKENS:])
        self._prefix_offset = 0
        self._read_offset = len(self._ids)

    def add(self, token_id: int) -> str:
        """Append one token and return the text it completes (may be empty)."""
        self._ids.append(token_id)
        prefix_text = self._decode(self._ids[self._prefix_offset : self._read_offset])
        new_text = self._decode(self._ids[self._prefix_offset :])
        if new_text.endswith(REPLACEMENT_CHAR):
            # The token ends inside a multi-byte UTF-8 character: wait for the rest of it.
            return ""
        if len(new_text) <= len(prefix_text):
            # Nothing visible (a skipped special token): slide the window so it stays short.
            self._advance()
            return ""
        self._advance()
        return new_text[len(prefix_text) :]

    def flush(self) -> str:
        """Text still held back at the end (a trailing incomplete character, shown as U+FFFD)."""
        prefix_text = self._decode(self._ids[self._prefix_offset : self._read_offset])
        new_text = self._decode(self._ids[self._prefix_offset :])
        self._advance()
        return new_text[len(prefix_text) :]

    def _advance(self) -> None:
        self._prefix_offset = self._read_offset
        self._read_offset = len(self._ids)
        # Drop ids that left the window; the list would otherwise grow with the output.
        if self._prefix_offset > 4 * CONTEXT_TOKENS:
            del self._ids[: self._prefix_offset]
            self._read_offset -= self._prefix_offset
            self._prefix_offset = 0

    def _decode(self, ids: list[int]) -> str:
        if not ids:
            return ""
        return self.tokenizer.decode(ids, skip_special_tokens=self.skip_special_tokens)
