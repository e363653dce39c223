"""Product kinds: one module each, listed in settings.PRODUCT_KIND_MODULES and loaded on first use."""

from products.kinds.registry import all_kinds, get_kind, register

__all__ = ["all_kinds", "get_kind", "register"]
