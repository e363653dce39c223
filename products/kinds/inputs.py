"""A product's typed inputs and the one form that checks them, for every surface.

The playground page draws this form; the playground and widget sockets, the REST API and the
OpenAI endpoint validate their plain dicts with the same form, so defaults, limits and messages
live in one place: the InputField declarations of each template.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django import forms

TEXT_TYPES = ("text", "paragraph")


class InputError(ValueError):
    """Inputs a person typed do not fit the product's input schema; ``errors`` says which, by name."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = errors
        super().__init__(" ".join(errors.values()))


def _message(text: str) -> str:
    # Django formats the messages that have %-params (limits, choices); a label is never a format string.
    return text.replace("%", "%%")


@dataclass(frozen=True)
class InputField:
    """One typed input variable of a product: what the form shows and what the prompt gets."""

    name: str
    label: str
    type: str = "text"  # text | paragraph | choice | number
    required: bool = True
    help_text: str = ""
    choices: tuple[str, ...] = ()
    max_length: int = 2000
    minimum: float | None = None
    maximum: float | None = None
    default: Any = None

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if v not in (None, (), "")}
        if self.choices:
            data["choices"] = list(self.choices)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InputField:
        data = dict(data)
        data["choices"] = tuple(data.get("choices", ()))
        return cls(**data)

    @property
    def has_default(self) -> bool:
        return self.default not in (None, "")

    def form_field(self) -> forms.Field:
        """The Django form field for this input, with messages that name it."""
        label = _message(self.label)
        common = {"label": self.label, "required": self.required and not self.has_default,
                  "help_text": self.help_text, "initial": self.default,
                  "error_messages": {"required": f"{self.label} is required."}}
        if self.type == "number":
            field = forms.FloatField(min_value=self.minimum, max_value=self.maximum, **common)
            field.error_messages["invalid"] = f"{self.label} must be a number."
            if self.minimum is not None:
                field.error_messages["min_value"] = f"{label} must be at least {self.minimum:g}."
            if self.maximum is not None:
                field.error_messages["max_value"] = f"{label} must be at most {self.maximum:g}."
            return field
        if self.type == "choice":
            field = forms.ChoiceField(choices=[(c, c) for c in self.choices], **common)
            field.error_messages["invalid_choice"] = f"{label} must be one of: {_message(', '.join(self.choices))}."
            return field
        widget = forms.Textarea(attrs={"rows": 4}) if self.type == "paragraph" else forms.TextInput
        field = forms.CharField(max_length=self.max_length, widget=widget, **common)
        field.error_messages["max_length"] = f"{label} is %(show_value)d characters; the limit is %(limit_value)d."
        return field


class InputForm(forms.Form):
    """A form built from a product's input fields (see ``input_form``)."""

    fields_by_name: dict[str, InputField]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        for name, value in list(cleaned.items()):
            spec = self.fields_by_name[name]
            if value in (None, "") and spec.has_default:
                cleaned[name] = spec.default
            elif spec.type == "number" and isinstance(value, float):
                cleaned[name] = int(value) if value.is_integer() else value
            elif value is None:
                cleaned[name] = ""
        return cleaned


def input_form(fields: Sequence[InputField], data: dict[str, Any] | None = None, **form_kwargs: Any) -> InputForm:
    """The form for ``fields``, bound to ``data`` when given (a missing or empty value takes its default)."""
    form_class = type("ProductInputForm", (InputForm,), {
        "fields_by_name": {field.name: field for field in fields},
        **{field.name: field.form_field() for field in fields},
    })
    if data is None:
        return form_class(**form_kwargs)
    return form_class(data={field.name: _finite(data.get(field.name)) for field in fields}, **form_kwargs)


def _finite(value: Any) -> Any:
    # float("nan") compares false with every limit: hand the number field a word it refuses.
    return "not a number" if isinstance(value, float) and not math.isfinite(value) else value


def clean_inputs(fields: Sequence[InputField], data: dict[str, Any]) -> dict[str, Any]:
    """Validate ``data`` with the input form; collect every problem so a person can fix them at once."""
    structured = {f.name for f in fields if isinstance(data.get(f.name), dict | list | tuple | set)}
    form = input_form(fields, {name: value for name, value in data.items() if name not in structured})
    errors = {} if form.is_valid() else {name: " ".join(messages) for name, messages in form.errors.items()}
    for field in fields:
        if field.name in structured:
            errors[field.name] = f"{field.label} must be text or a number, not a list or an object."
    if errors:
        raise InputError(errors)
    return dict(form.cleaned_data)
