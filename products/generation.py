"""The one way to start a generation, for every transport (ARCHITECTURE.md "One way to start a generation").

The playground socket, the widget socket, the REST API (JSON and SSE) and the OpenAI-compatible
endpoint all call ``generation_start``: it chooses the version, checks inputs and settings through
the product's kind, counts the limits, logs the Generation rows and returns the worker request.
Transports then iterate ``inference.client.stream`` and translate its events to their wire format.
One order for everyone: version, inputs, settings, prompt, then limits — a request that is refused
for its inputs does not use up anybody's quota.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Literal

from django.contrib.auth.models import AbstractBaseUser

from inference.protocol import InferenceRequest
from products.base_models.selectors import base_model_unregistered
from products.embed.limits import generation_limits_check
from products.kinds import get_kind
from products.kinds.base import (
    GenerationSettings,
    InputError,
    KnowledgeRef,
    PrepareContext,
    PrepareRefused,
    ProductKind,
)
from products.models import ApiKey, Generation, Product, ProductVersion, Release
from products.models.product import ProductConfig
from products.releases.assignment import CANDIDATE, arm_for
from products.releases.selectors import release_running
from products.services import generation_create

#: Which version generates: the editable draft (playground), the live one, or a saved version's number.
VersionChoice = Literal["draft", "live"] | int

NOT_PUBLISHED = "“{name}” has no published version yet. Publish a version in the studio first."
ARCHIVED = "“{name}” is archived: it answers no one. Restore it in the studio and publish a version to use it again."
#: Earlier turns a chat may send along (oldest dropped first); each turn's text is cut at CONVERSATION_TURN_CHARS.
CONVERSATION_TURNS = 20
CONVERSATION_TURN_CHARS = 4000


class GenerationRefused(Exception):
    """A generation that will not start; ``code`` says why (each transport maps it to its wire format)."""

    def __init__(self, code: str, message: str, fields: dict[str, str] | None = None,
                 retry_after_s: int | None = None) -> None:
        self.code, self.message, self.fields = code, message, fields or {}
        self.retry_after_s = retry_after_s  # rate_limited: seconds until the same call would pass
        super().__init__(message)


def visitor_id_clean(value: Any) -> str:
    """A client's own stable id (the widget's random visitor id, the API's ``user``) as stored: ≤ 64 characters.

    Anything longer is replaced by its hash, so two long ids never collide by sharing a prefix.
    """
    if not isinstance(value, str) or not value.strip():
        return ""
    value = value.strip()
    return value if len(value) <= 64 else "h:" + hashlib.sha256(value.encode()).hexdigest()[:62]


@dataclass(frozen=True)
class Actor:
    """Who asked: a signed-in person (playground), an API key, or a website visitor.

    ``visitor`` is the widget visitor's network address, for rate limits only; ``visitor_id`` is the stable
    id the client sent (the widget's random first-party id, the API's ``user`` field or X-Studio-Visitor).
    """

    user: AbstractBaseUser | None = None
    api_key: ApiKey | None = None
    visitor: str = ""
    visitor_id: str = ""

    @property
    def stable_id(self) -> str:
        """Who stays on one arm of a split: the client's id, else the signed-in person, else the API key."""
        if self.visitor_id:
            return visitor_id_clean(self.visitor_id)
        if self.user is not None and self.user.is_authenticated:
            return f"user:{self.user.pk}"
        if self.api_key is not None:
            return f"key:{self.api_key.pk}"  # one whole backend on one arm: the README says so
        return ""


@dataclass(frozen=True)
class StartedGeneration:
    """Logged generations (one per variant) and the request each of them sends to a worker."""

    product: Product
    kind: ProductKind
    version: ProductVersion | None
    generations: list[Generation]
    request: InferenceRequest


@dataclass(frozen=True)
class ChosenVersion:
    version: ProductVersion | None  # None: the draft
    release: Release | None = None  # the split that chose it, if any
    arm: str = ""


def _version(product: Product, choice: VersionChoice, actor: Actor) -> ChosenVersion:
    """The version that answers; "live" during an A/B split is the arm ``actor``'s stable id hashes to."""
    if choice == "draft":
        return ChosenVersion(None)
    if choice == "live":
        if product.live_version_id is None:
            raise GenerationRefused("not_published", NOT_PUBLISHED.format(name=product.name))
        release = release_running(product=product)
        if release is None:
            return ChosenVersion(product.live_version)
        arm = arm_for(product_id=product.pk, release_id=release.pk, stable_id=actor.stable_id,
                      share_percent=release.share_percent)
        return ChosenVersion(release.candidate if arm == CANDIDATE else product.live_version, release, arm)
    version = product.versions.filter(number=choice).first()
    if version is None:
        raise GenerationRefused("version_not_found", f"“{product.name}” has no version {choice}.")
    return ChosenVersion(version)


@dataclass(frozen=True)
class PreparedRequest:
    inputs: dict[str, Any]
    settings: GenerationSettings
    request: InferenceRequest


def conversation_clean(conversation: Any) -> tuple[dict[str, str], ...]:
    """Earlier chat turns as plain ``{"role": "user"|"assistant", "content"}`` dicts, the newest CONVERSATION_TURNS.

    Every transport hands over what its client sent (a socket frame, a JSON body); anything else in the
    list (system turns, tool calls, non-text content) is left out rather than refused, as chat clients send it.
    """
    if not isinstance(conversation, list | tuple):
        return ()
    turns = [
        {"role": turn["role"], "content": turn["content"][:CONVERSATION_TURN_CHARS]}
        for turn in conversation
        if isinstance(turn, dict) and turn.get("role") in ("user", "assistant")
        and isinstance(turn.get("content"), str) and turn["content"].strip()
    ]
    return tuple(turns[-CONVERSATION_TURNS:])


def _team_id(config: ProductConfig) -> int:
    return config.team_id if isinstance(config, Product) else config.product.team_id


def knowledge_ref(config: ProductConfig) -> KnowledgeRef | None:
    """The knowledge base ``config`` answers from, as its kind's ``prepare`` sees it; None when it has none.

    An index of another team never counts (a version cannot point at one; this keeps it so).
    """
    if config.knowledge_version_id is None:
        return None
    from inference.selectors import knowledge_index_for

    team_id = _team_id(config)
    index = knowledge_index_for(dataset_version_id=config.knowledge_version_id)
    if index is None or index.team_id != team_id:
        return KnowledgeRef(index_id=None, team_id=team_id, status="not_requested")
    return KnowledgeRef(index_id=index.pk, team_id=team_id, status=index.status,
                        progress_percent=index.progress_percent, error=index.error)


def generation_request(
    *, kind: ProductKind, config: ProductConfig, inputs: dict[str, Any], settings: dict[str, Any] | None = None,
    conversation: list[dict[str, str]] | None = None,
) -> PreparedRequest:
    """The checked inputs and settings and the worker request for ``config``, without logging or counting.

    Raises GenerationRefused (invalid_settings, invalid_input, or the kind's own code such as
    knowledge_not_ready) naming every bad field.
    """
    try:
        merged = GenerationSettings.from_dict(config.settings).with_overrides(settings)
    except InputError as exc:
        raise GenerationRefused("invalid_settings", str(exc), fields=exc.errors) from None
    context = PrepareContext(settings=merged, conversation=conversation_clean(conversation),
                             knowledge=knowledge_ref(config))
    try:
        cleaned = kind.clean_inputs(config, inputs)
        request = kind.prepare(config, cleaned, context)
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

    ``version`` "live" during an A/B split picks the arm from the actor's stable id (recorded on each
    Generation with the visitor id), so no transport decides which version answers.
    ``message`` is a chat message (widget, OpenAI client): the kind turns it into inputs, and named
    ``inputs`` fill the rest. ``settings`` override the version's creativity and length; only the
    playground writes several variants side by side.
    """
    if product.archived_at is not None and channel in (Generation.Channel.WIDGET, Generation.Channel.API):
        raise GenerationRefused("archived", ARCHIVED.format(name=product.name))  # even a pinned version
    picked = _version(product, version, actor)
    chosen = picked.version
    config = chosen or product
    if unregistered := base_model_unregistered(team_id=product.team_id, base_model=config.base_model):
        raise GenerationRefused("model_unregistered", unregistered)
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
                          variant=variant, visitor=actor.stable_id, release=picked.release, arm=picked.arm)
        for variant in range(variants)
    ]
    return StartedGeneration(product=product, kind=kind, version=chosen, generations=generations,
                             request=prepared.request)
