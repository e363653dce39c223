"""Writes for the embed widget: its settings, its public key and visitors' feedback."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from products.embed.origins import origin_normalize
from products.embed.tokens import feedback_token_valid
from products.models import Generation, Product
from products.models.apikey import new_public_key
from products.services import generation_feedback_set

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


@transaction.atomic
def widget_feedback_set(*, product: Product, generation_id: int, token: str, value: int) -> Generation:
    """A visitor rates an answer the widget gave them; the token proves they received it."""
    if not feedback_token_valid(public_key=product.public_key, generation_id=generation_id, token=token):
        raise PermissionDenied("This rating link is not valid for that answer.")
    generation = Generation.objects.filter(
        pk=generation_id, product=product, channel=Generation.Channel.WIDGET
    ).first()
    if generation is None:
        raise PermissionDenied("This rating link is not valid for that answer.")
    return generation_feedback_set(generation=generation, value=value)
