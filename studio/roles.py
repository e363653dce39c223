"""Team roles and what each may do. Powers are cumulative: an admin can do what an editor can."""

from __future__ import annotations

from django.db import models


class Role(models.TextChoices):
    VIEWER = "viewer", "Viewer"
    EDITOR = "editor", "Editor"
    ADMIN = "admin", "Admin"
    OWNER = "owner", "Owner"


RANK = {Role.VIEWER: 0, Role.EDITOR: 1, Role.ADMIN: 2, Role.OWNER: 3}

DESCRIPTIONS = {
    Role.VIEWER: "Sees products, datasets and training runs.",
    Role.EDITOR: "Also builds products, tries them in the playground and publishes versions.",
    Role.ADMIN: "Also manages datasets, API keys, embed settings and members.",
    Role.OWNER: "Everything, including making other owners.",
}


def role_at_least(role: str, minimum: str) -> bool:
    """True when ``role`` has every power of ``minimum``."""
    return RANK[Role(role)] >= RANK[Role(minimum)]
