"""Reads for API keys and the API's team-scoped objects."""

from __future__ import annotations

from django.db.models import QuerySet

from products.models import ApiKey, Generation, Product
from products.models.apikey import SECRET_KEY_PREFIX, hash_secret_key
from studio.models import Team


def api_key_list_for_team(*, team: Team) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(team=team).select_related("created_by")


def api_key_get(*, team: Team, key_id: int) -> ApiKey:
    from django.shortcuts import get_object_or_404

    return get_object_or_404(ApiKey, team=team, pk=key_id)


def api_key_for_secret(*, secret: str) -> ApiKey | None:
    """The active key with this secret, or None (unknown, malformed or revoked)."""
    if not secret.startswith(SECRET_KEY_PREFIX) or len(secret) > 200:
        return None
    return (
        ApiKey.objects.select_related("team")
        .filter(hashed_secret=hash_secret_key(secret), revoked_at__isnull=True)
        .first()
    )


def published_product_list(*, team: Team) -> QuerySet[Product]:
    """Products that can be called by slug (they have a live version)."""
    return Product.objects.filter(team=team, live_version__isnull=False).select_related("live_version")


def generation_list_for_product(
    *, product: Product, feedback: int | None = None, channel: str | None = None
) -> QuerySet[Generation]:
    """The product's generation log: what people, keys and visitors asked (a blind comparison's own are left out)."""
    generations = (product.generations.exclude(channel=Generation.Channel.COMPARISON)
                   .select_related("version").order_by("-created_at", "-pk"))
    if feedback is not None:
        generations = generations.filter(feedback=feedback)
    if channel:
        generations = generations.filter(channel=channel)
    return generations
