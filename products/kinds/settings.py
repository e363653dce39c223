"""Generation settings in plain words (creativity, length, variants) and their one set of limits.

The draft form, the playground socket, the REST API and the OpenAI endpoint all check settings
with ``settings_form_fields``, so a limit is written once, here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from django import forms

from products.kinds.inputs import InputError

#: name -> (label, help, lowest, highest, whole number?)
LIMITS: dict[str, tuple[str, str, float, float, bool]] = {
    "creativity": ("Creativity", "0 gives the same answer every time; higher is more varied.", 0.0, 1.5, False),
    "length": ("Length (tokens)", "About ¾ of a word per token.", 8, 1024, True),
    "variants": ("Variants", "How many alternatives to write side by side.", 1, 4, True),
}


def settings_form_fields(*, required: bool) -> dict[str, forms.Field]:
    """The settings' form fields with their limits and messages (the draft form requires them all)."""
    built: dict[str, forms.Field] = {}
    for name, (label, help_text, low, high, whole) in LIMITS.items():
        field_class = forms.IntegerField if whole else forms.FloatField
        field = field_class(min_value=low, max_value=high, required=required, label=label, help_text=help_text)
        words = f"{label} must be a {'whole ' if whole else ''}number from {low:g} to {high:g}."
        field.error_messages.update({"invalid": words, "min_value": words, "max_value": words})
        built[name] = field
    return built


SettingsForm = type("SettingsForm", (forms.Form,), settings_form_fields(required=False))


@dataclass(frozen=True)
class GenerationSettings:
    """A version's settings, after validation."""

    creativity: float = 0.7  # temperature; 0 is always the same answer
    length: int = 160  # max new tokens
    variants: int = 1

    def to_dict(self) -> dict[str, Any]:
        return {"creativity": self.creativity, "length": self.length, "variants": self.variants}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> GenerationSettings:
        """Settings as saved on a draft or version (already checked); missing ones take the defaults."""
        data = data or {}
        return cls(**{name: data[name] for name in LIMITS if data.get(name) is not None})

    def with_overrides(self, overrides: dict[str, Any] | None) -> GenerationSettings:
        """These settings changed by a request's ``overrides``; raises InputError naming each bad one."""
        return GenerationSettings.from_dict({**self.to_dict(), **clean_settings(overrides)})


def clean_settings(data: dict[str, Any] | None) -> dict[str, Any]:
    """The given settings, checked against LIMITS; unknown names are ignored, empty ones left out."""
    given = {name: value for name, value in (data or {}).items() if name in LIMITS and value not in (None, "")}
    for name, value in given.items():
        if isinstance(value, float) and not math.isfinite(value):
            given[name] = "not a number"  # nan compares false with both limits
        elif isinstance(value, bool | dict | list):
            given[name] = "not a number"
    form = SettingsForm(data=given)
    if not form.is_valid():
        raise InputError({name: " ".join(messages) for name, messages in form.errors.items()})
    return {name: form.cleaned_data[name] for name in given}
