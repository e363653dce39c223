"""Turn a person's inputs into engine requests, through the product's kind. No transport here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from products.kinds import get_kind
from products.kinds.base import GenerationSettings, InputField
from products.models import Product, ProductVersion
from products.models.product import ProductConfig


@dataclass(frozen=True)
class PreparedGeneration:
    """What the worker needs for one product call: messages, sampling params, which model."""

    inputs: dict[str, Any]
    messages: list[dict[str, str]]
    params: dict[str, Any]
    base_model: str
    variants: int
    adapter: str | None = None


def generation_prepare(
    *, product: Product, version: ProductVersion | None, inputs: dict[str, Any],
    settings: dict[str, Any] | None = None,
) -> PreparedGeneration:
    """Validate inputs against the config's schema and build the request.

    Raises ``InputError`` naming every field that is wrong. ``settings`` (playground tweaks) override the
    config's creativity/length/variants without saving them.
    """
    config: ProductConfig = version or product
    kind = get_kind(product.kind)
    fields = [InputField.from_dict(data) for data in config.input_schema]
    cleaned = kind.validate_inputs(fields, inputs)
    merged = GenerationSettings.from_dict({**config.settings, **(settings or {})})
    messages = kind.build_messages(
        system_prompt=config.system_prompt, prompt_template=config.prompt_template, inputs=cleaned
    )
    params = {
        "max_new_tokens": merged.length,
        "temperature": merged.creativity,
        "top_p": 0.95,
        "repetition_penalty": 1.1 if merged.creativity > 0 else 1.0,
        "max_seconds": 90.0,
    }
    return PreparedGeneration(
        inputs=cleaned, messages=messages, params=params, base_model=config.base_model,
        variants=merged.variants, adapter=getattr(config, "adapter_path", None),
    )
