from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models

SECRET_KEY_PREFIX = "sk_"
PUBLIC_KEY_PREFIX = "pk_"
# How much of a secret key is kept in clear, so people can tell their keys apart in lists.
DISPLAY_PREFIX_LENGTH = 11


def new_public_key() -> str:
    """A product's public widget key: safe to publish, it can only generate with that product."""
    return PUBLIC_KEY_PREFIX + secrets.token_urlsafe(18)


def new_secret_key() -> str:
    return SECRET_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_secret_key(secret: str) -> str:
    """SHA-256 is enough here: the secret is 256 random bits, so there is nothing to brute-force."""
    return hashlib.sha256(secret.encode()).hexdigest()


def widget_visitor_limit_default() -> int:
    return settings.WIDGET_MESSAGES_PER_VISITOR_HOUR


def widget_product_limit_default() -> int:
    return settings.WIDGET_MESSAGES_PER_PRODUCT_DAY


class ApiKey(models.Model):
    """A team's secret key for the REST API. Only its hash is stored; the secret is shown once."""

    class Scope(models.TextChoices):
        # Each scope includes the ones above it.
        READ = "read", "Read only"
        GENERATE = "generate", "Read and generate"
        MANAGE = "manage", "Read, generate and manage"

    team = models.ForeignKey("studio.Team", on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=80)
    prefix = models.CharField(max_length=DISPLAY_PREFIX_LENGTH, help_text="The key's first characters.")
    hashed_secret = models.CharField(max_length=64, unique=True)
    scope = models.CharField(max_length=10, choices=Scope.choices, default=Scope.GENERATE)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def allows(self, scope: str) -> bool:
        """True when this key's scope covers ``scope`` (manage includes generate, which includes read)."""
        order = list(self.Scope.values)
        return order.index(self.scope) >= order.index(scope)
