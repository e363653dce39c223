"""Passages → chunks the embedding model reads whole: sentence boundaries, ≤ ~200 MiniLM tokens, with overlap.

all-MiniLM-L6-v2 reads 256 word pieces and silently drops the rest, so a chunk is at most ``MAX_TOKENS`` of
its own tokens (room left for the title and the special tokens). Consecutive chunks of one passage share
their last / first sentences (``OVERLAP_TOKENS``), so an answer that straddles a cut is still found whole in
one of them. Counting uses the MiniLM tokenizer itself (the ``tokenizers`` package: no model weights).
Pure functions besides ``minilm_token_counter``: tests give them any counter.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path

MAX_TOKENS = 200
OVERLAP_TOKENS = 40

# A sentence ends at . ! ? … (optionally closed by a quote or bracket) followed by white space, or at a line
# break; abbreviations ("e.g. this") split too early now and then, which only costs a slightly shorter chunk.
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|(?<=[.!?…][\"'”’)\]])\s+|\n+")
_WORD = re.compile(r"\w+")

TokenCounter = Callable[[str], int]
Offsets = Callable[[str], list[tuple[int, int]]]


@functools.cache
def _minilm_tokenizer(models_dir: str):
    from tokenizers import Tokenizer

    from inference.registry import EMBEDDING_MODEL_ID, model_path

    tokenizer = Tokenizer.from_file(str(model_path(Path(models_dir), EMBEDDING_MODEL_ID) / "tokenizer.json"))
    # The file carries sentence-transformers' padding and truncation to 128: counting needs neither.
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


def minilm_token_counter(models_dir: str | Path) -> tuple[TokenCounter, Offsets]:
    """(count tokens of a text, token character offsets of a text) with the installed MiniLM tokenizer."""
    tokenizer = _minilm_tokenizer(str(models_dir))

    def count(text: str) -> int:
        return len(tokenizer.encode(text, add_special_tokens=False).ids)

    def offsets(text: str) -> list[tuple[int, int]]:
        return list(tokenizer.encode(text, add_special_tokens=False).offsets)

    return count, offsets


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence (or line) of ``text``, without the white space around it."""
    spans, start = [], 0
    for separator in [*_SENTENCE_END.finditer(text), None]:
        end = separator.start() if separator else len(text)
        piece = text[start:end]
        if piece.strip():
            lead = len(piece) - len(piece.lstrip())
            spans.append((start + lead, start + len(piece.rstrip())))
        if separator:
            start = separator.end()
    return spans


def sentences(text: str) -> list[str]:
    """The sentences (and lines) of ``text``, trimmed, empty ones dropped."""
    return [text[a:b] for a, b in sentence_spans(text)]


def _split_long(text: str, start: int, end: int, max_tokens: int, offsets: Offsets) -> Iterator[tuple[int, int]]:
    """Spans of a sentence longer than a chunk, cut every ``max_tokens`` tokens, at a word start when there is one."""
    spans = [(start + a, start + b) for a, b in offsets(text[start:end])]
    first = 0
    while first < len(spans):
        last = min(first + max_tokens, len(spans))
        if last < len(spans):  # back off to a token that starts a word, so no word is cut in two
            cut = last
            while cut > first + 1 and spans[cut][0] == spans[cut - 1][1]:
                cut -= 1
            last = cut if cut > first + 1 else last
        if text[spans[first][0]:spans[last - 1][1]].strip():
            yield spans[first][0], spans[last - 1][1]
        first = last


def chunk_text(text: str, *, count: TokenCounter, offsets: Offsets, max_tokens: int = MAX_TOKENS,
               overlap_tokens: int = OVERLAP_TOKENS) -> list[str]:
    """``text`` as chunks of whole sentences of at most ``max_tokens`` tokens each, overlapping by whole
    sentences of at most ``overlap_tokens``; a single longer sentence is cut at word boundaries. Each chunk is
    a slice of ``text``, so its line breaks and spacing stay as they were."""
    units: list[tuple[int, int, int]] = []  # (start, end, tokens)
    for start, end in sentence_spans(text):
        tokens = count(text[start:end])
        if tokens <= max_tokens:
            units.append((start, end, tokens))
        else:
            units.extend((a, b, count(text[a:b])) for a, b in _split_long(text, start, end, max_tokens, offsets))
    chunks: list[str] = []
    current: list[tuple[int, int, int]] = []
    size = 0
    fresh = 0  # units in `current` that no earlier chunk holds: a chunk of overlap alone is never emitted
    for unit in units:
        # + len(current): joining sentences can add a token or so at each seam; stay safely under.
        if current and size + unit[2] + len(current) > max_tokens:
            chunks.append(text[current[0][0]:current[-1][1]])
            carried: list[tuple[int, int, int]] = []
            carried_size = 0
            for previous in reversed(current):
                if carried_size + previous[2] > overlap_tokens or len(carried) + 1 >= len(current):
                    break
                carried.insert(0, previous)
                carried_size += previous[2]
            if carried_size + unit[2] + len(carried) > max_tokens:
                carried, carried_size = [], 0
            current, size, fresh = carried, carried_size, 0
        current.append(unit)
        size += unit[2]
        fresh += 1
    if current and fresh:
        chunks.append(text[current[0][0]:current[-1][1]])
    return chunks


def looks_like_text(text: str) -> bool:
    """False for binary junk that decoded as UTF-8: control characters, replacement marks, or a long run of
    characters with no spaces and few letters (an encoded image, a hex dump)."""
    if not text:
        return True
    sample = text[:20_000]
    odd = sum(1 for ch in sample if ch == "\ufffd" or (unicodedata.category(ch) in ("Cc", "Co", "Cs")
                                                         and ch not in "\t\n\r"))
    if odd > max(2, len(sample) // 100):
        return False
    if len(sample) >= 200:
        spaces = sum(1 for ch in sample if ch.isspace())
        if spaces < len(sample) // 50:  # prose has a space every ~6 characters; base64 has none
            return False
        letters = sum(1 for ch in sample if ch.isalpha())
        if letters < len(sample) // 3:
            return False
    return True


def word_count(text: str) -> int:
    return len(_WORD.findall(text))
