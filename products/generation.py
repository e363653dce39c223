"""The one way to start a generation, for every transport (ARCHITECTURE.md "One way to start a generation").

The playground socket, the widget socket, the REST API (JSON and SSE) and the OpenAI-compatible
endpoint all call ``generation_start``: it chooses the version, checks inputs and settings through
the product's kind, counts the limits, logs the Generation rows and returns the worker request.
Transports then iterate ``inference.client.stream`` and translate its events to their wire format.
One order for everyone: version, inputs, settings, prompt, then limits — a request that is refused
for its inputs does not use up anybody's quota.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from django.contrib.auth.models import AbstractBaseUser

from inference.protocol import InferenceRequest
from products.embed.limits import generation_limits_check
from products.kinds import get_kind
from products.kinds.base import GenerationSettings, InputError, PrepareContext, PrepareRefused, ProductKind
from products.models import ApiKey, Generation, Product, ProductVersion
from products.models.product import ProductConfig
from products.services import generation_create

#: Which version generates: the editable draft (playground), the live one, or a saved version's number.
VersionChoice = Literal["draft", "live"] | int

NOT_PUBLISHED = "“{name}” has no published version yet. Publish a version in the studio first."


class GenerationRefused(Exception):
    """A generation that will not start; ``code`` says why (each transport maps it to its wire format)."""

    def __init__(self, code: str, message: str, fields: dict[str, str] | None = None,
                 retry_after_s: int | None = None) -> None:
        self.code, self.message, self.fields = code, message, fields or {}
        self.retry_after_s = retry_after_s  # rate_limited: seconds until the same call would pass
        super().__init__(message)


@dataclass(frozen=True)
class Actor:
    """Who asked: a signed-in person (playground), an API key, or a website visitor (widget address)."""

    user: AbstractBaseUser | None = None
    api_key: ApiKey | None = None
    visitor: str = ""


@dataclass(frozen=True)
class StartedGeneration:
    """Logged generations (one per variant) and the request each of them sends to a worker."""

    product: Product
    kind: ProductKind
    version: ProductVersion | None
    generations: list[Generation]
    request: InferenceRequest


def _version(product: Product, choice: VersionChoice) -> ProductVersion | None:
    if choice == "draft":
        return None
    if choice == "live":
        if product.live_version_id is None:
            raise GenerationRefused("not_published", NOT_PUBLISHED.format(name=product.name))
        return product.live_version
    version = product.versions.filter(number=choice).first()
    if version is None:
        raise GenerationRefused("version_not_found", f"“{product.name}” has no version {choice}.")
    return version


@dataclass(frozen=True)
class PreparedRequest:
    inputs: dict[str, Any]
    settings: GenerationSettings
    request: InferenceRequest


def generation_request(
    *, kind: ProductKind, config: ProductConfig, inputs: dict[str, Any], settings: dict[str, Any] | None = None,
    conversation: list[dict[str, str]] | None = None,
) -> PreparedRequest:
    """The checked inputs and settings and the worker request for ``config``, without logging or counting.

    Raises GenerationRefused (invalid_settings, invalid_input) naming every bad field.
    """
    try:
        merged = GenerationSettings.from_dict(config.settings).with_overrides(settings)
    except InputError as exc:
        raise GenerationRefused("invalid_settings", str(exc), fields=exc.errors) from None
    try:
        cleaned = kind.clean_inputs(config, inputs)
        request = kind.prepare(config, cleaned, PrepareContext(settings=merged, conversation=tuple(conversation or ())))
    except InputError as exc:
        raise GenerationRefused("invalid_input", str(exc), fields=exc.errors) from None
    except PrepareRefused as exc:
        raise GenerationRefused(exc.code, exc.message) from None
    return PreparedRequest(inputs=cleaned, settings=merged, request=request)


def generation_start(
    *, product: Product, version: VersionChoice, channel: str, actor: Actor, inputs: dict[str, Any] | None = None,
    message: str | None = None, settings: dict[str, Any] | None = None,
    conversation: list[dict[str, str]] | None = None,
) -> StartedGeneration:
    """Check everything, count the limits and log the generations; raise GenerationRefused when it cannot start.

    ``message`` is a chat message (widget, OpenAI client): the kind turns it into inputs, and named
    ``inputs`` fill the rest. ``settings`` override the version's creativity and length; only the
    playground writes several variants side by side.
    """
    chosen = _version(product, version)
    config = chosen or product
    kind = get_kind(product.kind)
    if not kind.available:
        raise GenerationRefused("unavailable", f"{kind.name} products cannot answer yet in this studio.")
    raw_inputs = dict(inputs or {})
    if message is not None:
        raw_inputs = kind.inputs_from_message(config, message, extra=raw_inputs)
    overrides = dict(settings or {})
    if channel != Generation.Channel.PLAYGROUND:
        overrides["variants"] = 1
    prepared = generation_request(kind=kind, config=config, inputs=raw_inputs, settings=overrides,
                                  conversation=conversation)
    variants = min(prepared.settings.variants, kind.max_variants)
    refusal = generation_limits_check(
        channel=channel, product=product, user_id=getattr(actor.user, "pk", None),
        api_key_id=getattr(actor.api_key, "pk", None), visitor=actor.visitor, cost=variants,
    )
    if refusal:
        raise GenerationRefused("rate_limited", refusal.message, retry_after_s=refusal.retry_after_s)
    generations = [
        generation_create(product=product, version=chosen, channel=channel, user=actor.user, inputs=prepared.inputs,
                          variant=variant)
        for variant in range(variants)
    ]
    return StartedGeneration(product=product, kind=kind, version=chosen, generations=generations,
                             request=prepared.request)
