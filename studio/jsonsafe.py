"""JSON from strangers, parsed with bounds: size, nesting depth, and only finite numbers.

``json.loads`` recurses once per ``[`` or ``{``: 100,000 of them raise RecursionError (not
ValueError), which crashed the widget socket (close 1011) and the REST parser (500). The depth is
counted first with a flat scan that skips strings, so nothing deep ever reaches the recursive parser.
``NaN`` and ``Infinity`` are not JSON (RFC 8259) and would reach the sampler as temperatures.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

MAX_DEPTH = 32  # the deepest studio payload (an OpenAI message's content parts) nests 5 levels
MAX_BYTES = 5 * 1024 * 1024  # as DATA_UPLOAD_MAX_MEMORY_SIZE in studio/settings.py

# A whole string (escapes included), a quote that opens a string never closed, or a bracket.
_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|"|[\[\]{}]')


def nesting_depth(text: str, *, stop_above: int | None = None) -> int:
    """The deepest bracket nesting outside strings; stops counting once past ``stop_above``."""
    depth = deepest = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if stop_above is not None and deepest > stop_above:
                    break
        elif token in "]}":
            depth -= 1
        elif token == '"':
            break  # an unclosed string: json.loads will say where
    return deepest


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number; send a finite number.")


def _finite_float(literal: str) -> float:
    number = float(literal)
    if not math.isfinite(number):  # 1e400 parses as inf
        raise ValueError(f"{literal[:20]} is too large for a JSON number; send a finite number.")
    return number


def loads(text: str | bytes, *, max_depth: int = MAX_DEPTH, max_bytes: int = MAX_BYTES) -> Any:
    """``json.loads`` that raises ValueError, saying what is wrong, for big, deep or non-finite input."""
    size = len(text)  # a str's characters: never more than its UTF-8 bytes
    if size > max_bytes:
        raise ValueError(f"The JSON is {size:,} bytes; the limit is {max_bytes:,}.")
    if isinstance(text, bytes | bytearray):
        text = text.decode("utf-8")  # UnicodeDecodeError is a ValueError
    if nesting_depth(text, stop_above=max_depth) > max_depth:
        raise ValueError(f"The JSON nests more than {max_depth} levels deep; send a flatter object.")
    return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
