"""The registry of product kinds, keyed by id, filled from settings.PRODUCT_KIND_MODULES on first use."""

from __future__ import annotations

import importlib
import threading

from django.conf import settings

from products.kinds.base import ProductKind

_KINDS: dict[str, ProductKind] = {}
_loaded = False
_lock = threading.Lock()


def register(kind_class: type[ProductKind]) -> type[ProductKind]:
    """Class decorator: make a kind available to the gallery, every surface and the datasets pages."""
    kind = kind_class()
    if kind.id in _KINDS and type(_KINDS[kind.id]) is not kind_class:
        raise ValueError(f"Two product kinds use the id {kind.id!r}; rename one.")
    _KINDS[kind.id] = kind
    return kind_class


def _ensure_loaded() -> None:
    global _loaded
    if _loaded:
        return
    with _lock:
        if not _loaded:
            for module in settings.PRODUCT_KIND_MODULES:
                importlib.import_module(module)  # each module registers its kinds
            _loaded = True


def get_kind(kind_id: str) -> ProductKind:
    _ensure_loaded()
    try:
        return _KINDS[kind_id]
    except KeyError:
        known = ", ".join(k.id for k in all_kinds())
        raise KeyError(f"Unknown product kind {kind_id!r}; known kinds: {known}.") from None


def all_kinds(*, include_planned: bool = False) -> list[ProductKind]:
    """Kinds in registration order; planned kinds (datasets only, no gallery) when asked for."""
    _ensure_loaded()
    return [kind for kind in _KINDS.values() if include_planned or kind.available]
