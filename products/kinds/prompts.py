"""Prompt templates: plain ``{name}`` placeholders, checked on save, filled without ``str.format``.

``str.format`` runs a small language inside the braces (``{x:>100000000}`` pads to 100 million
characters, ``{x.__class__}`` walks attributes), and the rendered prompt is tokenised on the
inference thread every team shares. So a template may hold only ``{identifier}`` placeholders and
the literal braces ``{{`` and ``}}``; anything else is refused on save with its line and column,
and rendering is a plain substitution whose output is capped before any tokenising.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

# The engine's default prompt-token limit (inference/engines/base.py GenerationParams.max_prompt_tokens;
# tests/products/test_prompt_templates.py keeps the two equal). Products may not import the engine tier.
ENGINE_MAX_PROMPT_TOKENS = 1536
# An upper bound of characters per token: the bundled tokeniser averages about 4 on prose, so a prompt
# longer than 8 characters per allowed token would not fit anyway; refusing it costs no tokenising.
CHARS_PER_TOKEN_BOUND = 8
# What a person may save: both fit the rendered-prompt cap with room left for the inputs.
SYSTEM_PROMPT_MAX_CHARS = 4000
PROMPT_TEMPLATE_MAX_CHARS = 4000

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# Tokens of a template: an escaped brace, an opening brace, or a lone closing brace.
_BRACES = re.compile(r"\{\{|\}\}|\{|\}")
# What rendering replaces: escaped braces, and well-formed placeholders only.
_RENDERED = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SHOWN_MAX = 40  # characters of a bad placeholder quoted in a message


def prompt_char_limit(max_prompt_tokens: int = ENGINE_MAX_PROMPT_TOKENS) -> int:
    """The most characters a rendered prompt (instructions included) may have for ``max_prompt_tokens``."""
    return max_prompt_tokens * CHARS_PER_TOKEN_BOUND


class TemplateError(ValueError):
    """A template that is not plain ``{name}`` placeholders; the message names the placeholder and where."""

    def __init__(self, message: str, *, placeholder: str, line: int, column: int) -> None:
        self.placeholder, self.line, self.column = placeholder, line, column
        super().__init__(message)


class PromptTooLong(ValueError):
    """The rendered prompt would pass its character cap; raised before the rest is built."""

    def __init__(self, *, length: int, limit: int) -> None:
        self.length, self.limit = length, limit
        super().__init__(f"The prompt would be at least {length:,} characters; the limit is {limit:,}.")


@dataclass(frozen=True)
class Placeholder:
    name: str
    line: int
    column: int


def _position(template: str, offset: int) -> tuple[int, int]:
    """Line and column of ``offset`` as a person counts them (both from 1)."""
    line = template.count("\n", 0, offset) + 1
    return line, offset - (template.rfind("\n", 0, offset) + 1) + 1


def _shown(text: str) -> str:
    return text if len(text) <= _SHOWN_MAX else text[: _SHOWN_MAX - 1] + "…"


def _field_problem(field: str) -> str:
    """Why the text between ``{`` and ``}`` is not a plain placeholder."""
    if not field:
        return "an empty placeholder; name the input, e.g. {product}"
    name = re.split(r"[!:.\[]", field, maxsplit=1)[0]
    rest = field[len(name):]
    if rest.startswith("!"):
        return "a conversion (" + _shown(rest.split(":", 1)[0]) + f") is not allowed; write {{{name}}} only"
    if rest.startswith(":"):
        return f"a format spec ({_shown(rest)}) is not allowed; write {{{name}}} only"
    if rest[:1] in (".", "["):
        return f"attribute or index access ({_shown(rest)}) is not allowed; write {{{name}}} only"
    return "an input name has only letters, digits and _ and does not start with a digit"


def _placeholders(template: str) -> Iterator[Placeholder]:
    """Every placeholder in order; raises TemplateError at the first one that is not plain."""
    position = 0
    while match := _BRACES.search(template, position):
        token, start = match.group(), match.start()
        position = match.end()
        if token in ("{{", "}}"):
            continue
        line, column = _position(template, start)
        if token == "}":
            raise TemplateError(
                f"The prompt has a lone }} at line {line}, column {column}. Write }}}} for a literal brace.",
                placeholder="}", line=line, column=column,
            )
        close = template.find("}", position)
        reopen = template.find("{", position)
        if close == -1 or -1 < reopen < close:
            end = reopen if reopen != -1 else len(template)  # quote up to the next brace that opens
            shown = _shown(template[start:end].rstrip())
            raise TemplateError(
                f"The prompt has {shown} at line {line}, column {column}, which is not closed. "
                "Close it with } or write {{ for a literal brace.",
                placeholder=shown, line=line, column=column,
            )
        field = template[position:close]
        position = close + 1
        if not _NAME.match(field):
            shown = _shown("{" + field + "}")
            raise TemplateError(
                f"The prompt has {shown} at line {line}, column {column}: {_field_problem(field)}.",
                placeholder=shown, line=line, column=column,
            )
        yield Placeholder(field, line, column)


def template_placeholders(template: str) -> set[str]:
    """The input names a template uses; raises TemplateError when a placeholder is not plain ``{name}``."""
    return {placeholder.name for placeholder in _placeholders(template)}


def validate_template(template: str, *, known: set[str]) -> None:
    """Raise TemplateError unless every placeholder is plain and names one of ``known``."""
    first_of: dict[str, Placeholder] = {}
    for placeholder in _placeholders(template):
        if placeholder.name not in known:
            first_of.setdefault(placeholder.name, placeholder)
    if first_of:
        where = ", ".join(f"{{{p.name}}} (line {p.line}, column {p.column})" for p in first_of.values())
        verb = "is not an input" if len(first_of) == 1 else "are not inputs"
        first = next(iter(first_of.values()))
        raise TemplateError(
            f"The prompt uses {where}, which {verb} of this product. "
            f"Inputs you can use: {', '.join('{' + name + '}' for name in sorted(known))}.",
            placeholder="{" + first.name + "}", line=first.line, column=first.column,
        )


def prompt_length_errors(*, system_prompt: str, prompt_template: str) -> dict[str, str]:
    """What is too long to save, by field name; empty when both fit."""
    errors = {}
    if len(system_prompt) > SYSTEM_PROMPT_MAX_CHARS:
        errors["system_prompt"] = (f"The instructions are {len(system_prompt):,} characters; "
                                   f"the limit is {SYSTEM_PROMPT_MAX_CHARS:,}. Shorten them.")
    if len(prompt_template) > PROMPT_TEMPLATE_MAX_CHARS:
        errors["prompt_template"] = (f"The prompt is {len(prompt_template):,} characters; "
                                     f"the limit is {PROMPT_TEMPLATE_MAX_CHARS:,}. Shorten it.")
    return errors


def render_prompt(template: str, inputs: Mapping[str, Any], *, max_chars: int | None = None) -> str:
    """Fill ``{name}`` placeholders by plain substitution; unknown names stay visible as ``{name}``.

    Anything that is not a plain placeholder (a template saved before templates were checked) stays as
    written. With ``max_chars``, raises PromptTooLong as soon as the output would pass it.
    """
    parts: list[str] = []
    length, position = 0, 0
    for match in _RENDERED.finditer(template):
        token = match.group()
        if token in ("{{", "}}"):
            value = token[0]
        elif match.group(1) in inputs:
            value = str(inputs[match.group(1)])
        else:
            value = token
        for part in (template[position:match.start()], value):
            parts.append(part)
            length += len(part)
        position = match.end()
        if max_chars is not None and length > max_chars:
            raise PromptTooLong(length=length, limit=max_chars)
    parts.append(template[position:])
    length += len(parts[-1])
    if max_chars is not None and length > max_chars:
        raise PromptTooLong(length=length, limit=max_chars)
    return "".join(parts)
