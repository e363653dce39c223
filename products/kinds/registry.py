"""The registry of product kinds, keyed by id."""

from __future__ import annotations

from products.kinds.base import ProductKind

_KINDS: dict[str, ProductKind] = {}


def register(kind_class: type[ProductKind]) -> type[ProductKind]:
    """Class decorator: make a kind available to the gallery, the consumer and the worker."""
    kind = kind_class()
    if kind.id in _KINDS:
        raise ValueError(f"Two product kinds use the id {kind.id!r}; rename one.")
    _KINDS[kind.id] = kind
    return kind_class


def get_kind(kind_id: str) -> ProductKind:
    try:
        return _KINDS[kind_id]
    except KeyError:
        raise KeyError(f"Unknown product kind {kind_id!r}; known kinds: {', '.join(_KINDS)}.") from None


def all_kinds() -> list[ProductKind]:
    return list(_KINDS.values())
