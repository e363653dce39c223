"""What each product kind needs from a dataset, read from the kinds themselves (products/kinds/).

A kind declares its dataset shapes (products.datasets.shapes types); this module only looks them
up, so there is one registry: the kinds'. A kind may accept several layouts: Q&A learns from
question → answer pairs or answers from documents; recommendations need a catalog of items and a
log of interactions (two datasets).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError

from products.datasets.shapes import Block, Need, Shape

__all__ = ["Block", "Need", "Shape", "all_shapes", "kind_labels", "purpose_choices", "shape_get", "shapes_for"]


def all_shapes() -> list[Shape]:
    """Every dataset shape of every registered kind, in registry order."""
    from products.kinds import all_kinds  # the kinds import this package's types

    return [shape for kind in all_kinds(include_planned=True) for shape in kind.dataset_shapes]


def kind_labels() -> dict[str, str]:
    """Kind id → the kind's name in words, for every kind that has dataset shapes."""
    from products.kinds import all_kinds

    return {kind.id: kind.name for kind in all_kinds(include_planned=True) if kind.dataset_shapes}


def shape_get(kind: str, shape: str) -> Shape:
    for candidate in all_shapes():
        if candidate.kind == kind and candidate.id == shape:
            return candidate
    raise ValidationError(
        {"purpose": f"Unknown dataset use {kind}:{shape}. Choose one of: {', '.join(s.key for s in all_shapes())}."}
    )


def shapes_for(kind: str) -> list[Shape]:
    return [shape for shape in all_shapes() if shape.kind == kind]


def purpose_choices() -> list[tuple[str, str]]:
    return [(shape.key, shape.label) for shape in all_shapes()]
