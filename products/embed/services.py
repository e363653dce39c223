"""Writes for the embed widget: its settings, what it shows, its public key and visitors' feedback."""

from __future__ import annotations

import dataclasses
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import transaction

from products.embed.origins import origin_normalize
from products.embed.tokens import feedback_token_valid
from products.kinds import get_kind
from products.models import FeedbackEvent, Generation, Product
from products.models.apikey import new_public_key
from products.services import generation_feedback_set, generation_item_event_record

MAX_ORIGINS = 50
LIMIT_RANGE = (1, 1_000_000)


@transaction.atomic
def product_embed_update(
    *, product: Product, allowed_origins: list[str], messages_per_visitor_hour: int, messages_per_day: int
) -> Product:
    """Set which websites may show the widget and how much it may be used."""
    errors: dict[str, list[str]] = {}
    origins: list[str] = []
    for raw in allowed_origins:
        try:
            origin = origin_normalize(raw)
        except ValidationError as exc:
            errors.setdefault("allowed_origins", []).extend(exc.messages)
            continue
        if origin not in origins:
            origins.append(origin)
    if len(origins) > MAX_ORIGINS:
        errors.setdefault("allowed_origins", []).append(
            f"At most {MAX_ORIGINS} websites can be allowed; remove {len(origins) - MAX_ORIGINS}."
        )
    low, high = LIMIT_RANGE
    for name, value in (("messages_per_visitor_hour", messages_per_visitor_hour),
                        ("messages_per_day", messages_per_day)):
        if not isinstance(value, int) or not low <= value <= high:
            errors[name] = [f"Enter a whole number from {low} to {high:,}."]
    if errors:
        raise ValidationError(errors)
    product.allowed_origins = origins
    product.widget_messages_per_visitor_hour = messages_per_visitor_hour
    product.widget_messages_per_day = messages_per_day
    product.full_clean()
    product.save(update_fields=["allowed_origins", "widget_messages_per_visitor_hour", "widget_messages_per_day",
                                "updated_at"])
    return product


@transaction.atomic
def product_public_key_rotate(*, product: Product) -> Product:
    """Give the product a new public key: widgets with the old script tag stop working at once."""
    product.public_key = new_public_key()
    product.save(update_fields=["public_key", "updated_at"])
    return product


def _widget_generation(*, product: Product, generation_id: int, token: str) -> Generation:
    """The widget generation a visitor holds the token of; PermissionDenied for any other."""
    if not feedback_token_valid(public_key=product.public_key, generation_id=generation_id, token=token):
        raise PermissionDenied("This rating link is not valid for that answer.")
    generation = Generation.objects.filter(
        pk=generation_id, product=product, channel=Generation.Channel.WIDGET
    ).first()
    if generation is None:
        raise PermissionDenied("This rating link is not valid for that answer.")
    return generation


@transaction.atomic
def widget_feedback_set(*, product: Product, generation_id: int, token: str, value: int) -> Generation:
    """A visitor rates an answer the widget gave them; the token proves they received it."""
    generation = _widget_generation(product=product, generation_id=generation_id, token=token)
    return generation_feedback_set(generation=generation, value=value)


@transaction.atomic
def widget_item_event_record(
    *, product: Product, generation_id: int, token: str, kind: str, item: str
) -> FeedbackEvent:
    """A visitor clicked (or bought) an item of the recommendation cards the widget showed them."""
    generation = _widget_generation(product=product, generation_id=generation_id, token=token)
    return generation_item_event_record(generation=generation, kind=kind, item=item, visitor=generation.visitor)


#: The most characters of each text the widget shows.
WIDGET_TEXT_LIMITS = {"title": 80, "placeholder": 120, "greeting": 500}


@transaction.atomic
def product_widget_update(
    *, product: Product, defaults: dict[str, Any], title: str = "", placeholder: str = "", greeting: str = ""
) -> Product:
    """Set, in the draft, the widget's texts and the defaults of the inputs a visitor's message leaves empty.

    ``defaults`` maps input names to values ("" or None: no default). The message input itself is what the
    visitor types, so it takes none here. Versions are frozen: visitors get these once a version saved
    after this is published, and rolling back brings the old ones back.
    """
    kind = get_kind(product.kind)
    message = kind.message_input(product)
    fields = {field.name: field for field in kind.input_fields(product)}
    errors: dict[str, list[str]] = {}
    for name in defaults:
        if name not in fields or (message is not None and name == message.name):
            errors.setdefault(NON_FIELD_ERRORS, []).append(
                f"“{name}” is not an input a visitor's message leaves empty; reload the page."
            )
    schema: list[dict[str, Any]] = []
    for data in product.input_schema:
        field = fields[data["name"]]
        if field.name not in defaults:
            schema.append(data)
            continue
        value = defaults[field.name]
        if value in (None, "") or (isinstance(value, str) and not value.strip()):
            schema.append(dataclasses.replace(field, default=None).to_dict())
            continue
        try:  # the input's own form field: the same limits and messages as the playground's form
            cleaned = dataclasses.replace(field, required=True, default=None).form_field().clean(value)
        except ValidationError as exc:
            errors[f"default_{field.name}"] = exc.messages
            continue
        if field.type == "number" and isinstance(cleaned, float) and cleaned.is_integer():
            cleaned = int(cleaned)
        schema.append(dataclasses.replace(field, default=cleaned.strip() if isinstance(cleaned, str) else cleaned)
                      .to_dict())
    texts = {"title": title, "placeholder": placeholder, "greeting": greeting}
    widget: dict[str, str] = {}
    for name, value in texts.items():
        value = " ".join((value or "").split()) if name != "greeting" else (value or "").strip()
        if len(value) > WIDGET_TEXT_LIMITS[name]:
            errors[name] = [f"At most {WIDGET_TEXT_LIMITS[name]} characters; this is {len(value)}."]
        elif value:
            widget[name] = value
    if errors:
        raise ValidationError(errors)
    product.input_schema = schema
    product.widget = widget
    product.full_clean()
    product.save(update_fields=["input_schema", "widget", "updated_at"])
    return product
