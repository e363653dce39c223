"""Reads for the embed widget."""

from __future__ import annotations

from products.kinds import get_kind
from products.models import Product
from products.models.apikey import PUBLIC_KEY_PREFIX
from products.models.product import ProductConfig


def product_get_by_public_key(*, public_key: str) -> Product | None:
    """The product a widget key belongs to, with its live version; None for unknown keys."""
    if not public_key.startswith(PUBLIC_KEY_PREFIX):
        return None
    return Product.objects.select_related("live_version", "team").filter(public_key=public_key).first()


def widget_texts(config: ProductConfig) -> dict[str, str]:
    """The title, placeholder and greeting the widget of ``config`` (a version, or the draft) shows a visitor."""
    product = config if isinstance(config, Product) else config.product
    saved = config.widget or {}
    field = get_kind(product.kind).message_input(config)
    return {
        "title": saved.get("title") or product.name,
        "placeholder": saved.get("placeholder") or (f"{field.label}…" if field else "Type your message…"),
        "greeting": saved.get("greeting", ""),
    }
