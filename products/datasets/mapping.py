"""Column mapping: which columns of a file feed which canonical fields of a kind's examples."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from django.core.exceptions import ValidationError

from products.datasets.requirements import Block, Shape

Mapping = dict[str, list[str]]


def _normal(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def mapping_guess(*, shape: Shape, columns: list[str]) -> Mapping:
    """A first mapping from column names ("Question" → question), for the person to check."""
    unused = list(columns)
    guess: Mapping = {}
    for need in shape.needs:
        if need.takes_rest:
            continue
        by_name = {_normal(column): column for column in unused}
        match = next((by_name[s] for s in need.synonyms if s in by_name), None)
        if match is not None:
            guess[need.name] = [match]
            unused.remove(match)
    unmatched = [n for n in shape.needs if n.required and not n.takes_rest and n.name not in guess]
    if unmatched and len(unmatched) == len(unused) and not any(n.takes_rest for n in shape.needs):
        # As many columns left as fields to fill: take them in file order rather than leave blanks.
        guess.update({need.name: [column] for need, column in zip(unmatched, unused, strict=True)})
        unused = []
    for need in shape.needs:
        if need.takes_rest and unused:
            guess[need.name] = list(unused)
            unused = []
    return guess


MAPPING_EXAMPLE = '{"question": ["q"], "answer": ["a"]}'


def _kind_of(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "true or false", type(None): "null"}
    return names.get(type(value), "a number" if isinstance(value, int | float) else type(value).__name__)


def mapping_shape_check(value: Any) -> Mapping:
    """``value`` as {field: [column, ...]}, or ValidationError saying what is not; checks no file.

    For mappings from outside (the API), before anything is stored: ``[]``, ``"abc"`` or ``{"output": 5}``
    crashed the mapping step after the upload was kept.
    """
    if not isinstance(value, dict):
        raise ValidationError(f"The column mapping must be an object of fields and their columns, e.g. "
                              f"{MAPPING_EXAMPLE}; this is {_kind_of(value)}.")
    for name, columns in value.items():
        if not isinstance(columns, list) or not all(isinstance(column, str) for column in columns):
            got = _kind_of(columns) if not isinstance(columns, list) else "a list with something other than names"
            raise ValidationError(f"The column mapping's “{name}” must be a list of column names, e.g. "
                                  f"[\"{name}\"]; it is {got}.")
    return value


def mapping_validate(*, shape: Shape, columns: Iterable[str], mapping: dict[str, Any]) -> Mapping:
    """The mapping with blanks dropped; ValidationError keyed by field name says what to choose."""
    if not isinstance(mapping, dict):
        mapping_shape_check(mapping)
    known = set(columns)
    errors: dict[str, str] = {}
    cleaned: Mapping = {}
    used_by: dict[str, str] = {}
    for need in shape.needs:
        raw = mapping.get(need.name) or []
        chosen = [raw] if isinstance(raw, str) else raw
        if not isinstance(chosen, list | tuple) or not all(isinstance(column, str) for column in chosen):
            errors[need.name] = f"Choose columns for {need.label.lower()} by their names."
            continue
        chosen = [column for column in chosen if column]
        missing = [column for column in chosen if column not in known]
        if missing:
            errors[need.name] = f"There is no column “{missing[0]}” in this file."
            continue
        if not chosen:
            if need.required:
                choose = "the columns that hold" if need.multiple else "the column that holds"
                errors[need.name] = f"Choose {choose} {need.label.lower()}."
            continue
        if len(chosen) > 1 and not need.multiple:
            errors[need.name] = f"Choose one column for {need.label.lower()}."
            continue
        for column in chosen:
            if column in used_by:
                errors[need.name] = (
                    f"“{column}” is already used for {used_by[column].lower()}; each column can feed one field."
                )
            used_by.setdefault(column, need.label)
        cleaned[need.name] = chosen
    if errors:
        raise ValidationError(errors)
    return cleaned


def example_from_row(row: dict[str, str], *, shape: Shape, mapping: Mapping) -> dict[str, Any] | None:
    """The row in canonical field names, or None when a required field is empty (the row is skipped)."""
    example: dict[str, Any] = {}
    for need in shape.needs:
        columns = mapping.get(need.name, [])
        if need.multiple:
            values = {column: row.get(column, "").strip() for column in columns}
            value: Any = {column: text for column, text in values.items() if text}
        else:
            value = row.get(columns[0], "").strip() if columns else ""
        if value:
            example[need.name] = value
        elif need.required:
            return None
    return example


def examples_from_rows(rows: Iterable[dict[str, str]], *, shape: Shape, mapping: Mapping) -> Iterator[dict[str, Any]]:
    for row in rows:
        example = example_from_row(row, shape=shape, mapping=mapping)
        if example is not None:
            yield example


def example_render(example: dict[str, Any], *, shape: Shape) -> list[Block]:
    """The example as the model sees it: the messages of one training conversation, or one passage."""
    return shape.render(example)


def purpose_guess(*, columns: list[str], shapes: Iterable[Shape]) -> Shape:
    """The use whose required fields the column names match best (copywriting when nothing matches)."""
    names = {_normal(column) for column in columns}
    best, best_score = None, -1_000
    for shape in shapes:
        named = [need for need in shape.needs if not need.takes_rest]
        found = {need.name for need in named if any(s in names for s in need.synonyms)}
        required = [need for need in named if need.required]
        optional_found = sum(1 for need in named if not need.required and need.name in found)
        score = 10 * sum(1 if need.name in found else -1 for need in required) + optional_found
        if score > best_score:
            best, best_score = shape, score
    assert best is not None
    return best
