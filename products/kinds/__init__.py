"""Product kinds. Each module registers itself; importing this package loads them all."""

from products.kinds import copywriting  # noqa: F401
from products.kinds.registry import all_kinds, get_kind, register

__all__ = ["all_kinds", "get_kind", "register"]
