"""Service ValidationErrors as DRF error bodies, each message under the request field it is about."""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions


def api_validation_error(
    exc: DjangoValidationError, *, place: Callable[[str], tuple[str, ...]] = lambda field: (field,)
) -> exceptions.ValidationError:
    """A 400 for ``exc``; ``place(field)`` is the path in the body of a service field, e.g. ("settings", "epochs")."""
    if not hasattr(exc, "error_dict"):
        return exceptions.ValidationError({"non_field_errors": exc.messages})
    errors: dict = {}
    for field, messages in exc.message_dict.items():
        *parents, key = ("non_field_errors",) if field == NON_FIELD_ERRORS else place(field)
        target = errors
        for parent in parents:
            target = target.setdefault(parent, {})
        target[key] = messages
    return exceptions.ValidationError(errors)
