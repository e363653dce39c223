"""Small builders shared by the inference tests."""

from __future__ import annotations

from inference.engines.base import GenerationParams, GenerationRequest


def chat(text: str, **params) -> GenerationRequest:
    """A one-message chat request; greedy unless `temperature` is given."""
    params.setdefault("temperature", 0.0)
    return GenerationRequest(messages=[{"role": "user", "content": text}], params=GenerationParams(**params))


class ByteTokenizer:
    """A fake byte-level tokenizer: token id N is the byte N, ids >= 256 are special tokens.

    It splits multi-byte UTF-8 characters across tokens, like real byte-level BPE does, and
    records every decode call so tests can check the window stays short.
    """

    EOS = 256

    def __init__(self) -> None:
        self.calls: list[int] = []

    def encode(self, text: str) -> list[int]:
        return list(text.encode("utf-8"))

    def decode(self, token_ids: list[int], skip_special_tokens: bool = True) -> str:
        self.calls.append(len(token_ids))
        data = bytes(t for t in token_ids if t < 256)
        text = data.decode("utf-8", errors="replace")
        if not skip_special_tokens:
            text += "".join("<eos>" for t in token_ids if t >= 256)
        return text
