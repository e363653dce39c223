"""Turn one chat message into a product's inputs (the widget and /v1/chat/completions send text).

A kind may define ``inputs_from_message(fields, message) -> dict`` for its own mapping; otherwise
the message fills the first text input and every other input keeps its default.
"""

from __future__ import annotations

from typing import Any

from products.kinds import get_kind
from products.kinds.base import InputField
from products.models.product import ProductConfig

TEXT_TYPES = ("text", "paragraph")


def input_fields(config: ProductConfig) -> list[InputField]:
    return [InputField.from_dict(data) for data in config.input_schema]


def message_field(config: ProductConfig) -> InputField | None:
    """The input a chat message goes into: the first text or paragraph input."""
    return next((field for field in input_fields(config) if field.type in TEXT_TYPES), None)


def inputs_unfilled_by_message(config: ProductConfig) -> list[InputField]:
    """Required inputs that a chat message leaves empty (they have no default): the widget cannot work."""
    target = message_field(config)
    return [
        field for field in input_fields(config)
        if field.required and field.default in (None, "") and field != target
        and not (field.type == "choice" and field.choices)
    ]


def inputs_from_message(*, kind_id: str, config: ProductConfig, message: str,
                        extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Inputs for one chat message; ``extra`` (named inputs a developer passed) wins over the mapping."""
    fields = input_fields(config)
    kind = get_kind(kind_id)
    custom = getattr(kind, "inputs_from_message", None)
    if custom is not None:
        inputs = dict(custom(fields, message))
    else:
        target = message_field(config)
        inputs = {field.name: field.default for field in fields if field.default not in (None, "")}
        for field in fields:  # a choice without a default takes its first choice, as the form would
            if field.type == "choice" and field.choices and field.name not in inputs:
                inputs[field.name] = field.choices[0]
        if target is not None:
            inputs[target.name] = message
    return {**inputs, **(extra or {})}
