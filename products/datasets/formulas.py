"""Cells a spreadsheet would run as a formula (=, +, -, @ at the start), and the clean-up that keeps their words.

As training text such a cell teaches a model to begin its answers with "=" or "@", and a spreadsheet that
opens the data later runs it. The clean-up removes the sign (and the spaces after it) rather than putting a
' in front, as downloads do: a ' would become part of the text the model learns from.
"""

from __future__ import annotations

import re

FORMULA_SIGNS = ("=", "+", "-", "@")
#: A plain number such as "-4.5" or "+3" is a value, not a formula: it is never flagged or changed.
NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_LEADING = re.compile(r"^\s*[=+\-@][=+\-@\s]*")


def formula_like(value: str) -> bool:
    """True for a text cell that starts (after spaces) with =, +, - or @ and is not a plain number."""
    clean = value.strip()
    return clean.startswith(FORMULA_SIGNS) and not NUMBER.fullmatch(clean)


def formula_cleaned(value: str) -> str:
    """The cell without its leading signs and the spaces after them: "@members get 10% off" → "members get 10% off"."""
    return _LEADING.sub("", value) if formula_like(value) else value
