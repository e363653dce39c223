"""The types a product kind uses to say what it needs from a dataset: fields, layouts ("shapes"), blocks.

Each kind declares its own shapes (products/kinds/); products.datasets.requirements finds them
through the kinds registry. An example maps canonical field names to values: a single field gives a
string, a ``multiple`` field gives ``{column: value}`` in column order (copywriting inputs, catalog text).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Need:
    """One canonical field of a kind's example and the column names that usually hold it."""

    name: str
    label: str
    help: str
    required: bool = True
    multiple: bool = False
    #: Guess all columns left over after the other fields are matched (copywriting inputs).
    takes_rest: bool = False
    synonyms: tuple[str, ...] = ()


@dataclass(frozen=True)
class Block:
    """A piece of a rendered example: who or what it is, and its text."""

    label: str
    text: str
    learnt: bool = False  # the part the model learns to produce


@dataclass(frozen=True)
class Shape:
    kind: str
    id: str
    label: str
    description: str
    needs: tuple[Need, ...]
    render: Callable[[dict[str, Any]], list[Block]]
    #: The need whose value the train/validation split keeps in proportion (a classifier's label), if any.
    stratify_by: str | None = None

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.id}"

    def need(self, name: str) -> Need:
        return next(need for need in self.needs if need.name == name)


def facts(values: dict[str, str]) -> str:
    """Multi-column values as "column: value" lines, as a prompt or a dataset page shows them."""
    return "\n".join(f"{column}: {value}" for column, value in values.items())
