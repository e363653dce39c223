"""Writes for API keys: create (the secret is returned once, never stored), revoke, mark used."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from products.embed.inputs import input_fields
from products.embed.limits import api_limit_check
from products.generation import PreparedGeneration, generation_prepare
from products.kinds.base import InputError
from products.models import ApiKey, Generation, Product, ProductVersion
from products.models.apikey import DISPLAY_PREFIX_LENGTH, hash_secret_key, new_secret_key
from products.services import generation_create
from studio.models import Team

# last_used_at is for people ("used 3 minutes ago"); writing it on every request would cost a write per call.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class CreatedApiKey:
    api_key: ApiKey
    secret: str  # shown to the person once, then gone


@transaction.atomic
def api_key_create(*, team: Team, user: AbstractBaseUser, name: str, scope: str) -> CreatedApiKey:
    name = name.strip()
    if not name:
        raise ValidationError({"name": "Give the key a name that says where it is used, e.g. “Shop backend”."})
    if scope not in ApiKey.Scope.values:
        raise ValidationError({"scope": "Choose read only, or read and generate."})
    secret = new_secret_key()
    api_key = ApiKey(team=team, name=name, scope=scope, created_by=user,
                     prefix=secret[:DISPLAY_PREFIX_LENGTH], hashed_secret=hash_secret_key(secret))
    api_key.full_clean()
    api_key.save()
    return CreatedApiKey(api_key=api_key, secret=secret)


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    """Stop the key working; the next request with it gets 401. Revoking twice keeps the first time."""
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
    return api_key


def api_key_mark_used(*, api_key: ApiKey) -> None:
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now


class GenerationRefused(Exception):
    """A generation the API will not start; ``code`` says why (views map it to a status)."""

    def __init__(self, code: str, message: str, fields: dict[str, str] | None = None) -> None:
        self.code, self.message, self.fields = code, message, fields or {}
        super().__init__(message)


@dataclass(frozen=True)
class StartedGeneration:
    generation: Generation
    version: ProductVersion
    prepared: PreparedGeneration


def api_generation_start(
    *, api_key: ApiKey, product: Product, inputs: dict[str, Any], version_number: int | None = None,
    settings: dict[str, Any] | None = None,
) -> StartedGeneration:
    """Check the key's limit, validate inputs against the version and log a running API generation.

    The live version generates unless ``version_number`` names another; API calls write one variant.
    """
    if version_number is None:
        version = product.live_version
        if version is None:
            raise GenerationRefused(
                "not_published",
                f"“{product.name}” has no published version yet. Publish a version in the studio, or pass "
                f"\"version\": <number> to call a saved one.",
            )
    else:
        version = product.versions.filter(number=version_number).first()
        if version is None:
            raise GenerationRefused("version_not_found", f"“{product.name}” has no version {version_number}.")
    refusal = api_limit_check(api_key_id=api_key.pk)
    if refusal:
        raise GenerationRefused("rate_limited", refusal)
    # Inputs left out take their defaults, as the playground's form would have shown them.
    defaults = {field.name: field.default for field in input_fields(version) if field.default not in (None, "")}
    try:
        prepared = generation_prepare(
            product=product, version=version, inputs={**defaults, **inputs},
            settings={**(settings or {}), "variants": 1},
        )
    except InputError as exc:
        raise GenerationRefused("invalid_input", str(exc), fields=exc.errors) from None
    generation = generation_create(
        product=product, version=version, channel=Generation.Channel.API, user=None, inputs=prepared.inputs
    )
    return StartedGeneration(generation=generation, version=version, prepared=prepared)
