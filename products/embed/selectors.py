"""Reads for the embed widget."""

from __future__ import annotations

from products.models import Product
from products.models.apikey import PUBLIC_KEY_PREFIX


def product_get_by_public_key(*, public_key: str) -> Product | None:
    """The product a widget key belongs to, with its live version; None for unknown keys."""
    if not public_key.startswith(PUBLIC_KEY_PREFIX):
        return None
    return Product.objects.select_related("live_version", "team").filter(public_key=public_key).first()
