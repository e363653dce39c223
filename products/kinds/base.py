"""What a product kind is: its templates, typed inputs, prompts and how results render.

A kind is a plugin: views, consumers and the worker only call the methods here, so adding a kind
means adding one module under products/kinds/ and one import in its __init__.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from typing import Any


class InputError(ValueError):
    """Inputs a person typed do not fit the product's input schema; the message says which."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = errors
        super().__init__(" ".join(errors.values()))


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

    def clean(self, raw: Any) -> Any:
        """Return the cleaned value or raise ValueError with a sentence for the person."""
        text = "" if raw is None else str(raw).strip()
        if not text:
            if self.required:
                raise ValueError(f"{self.label} is required.")
            return self.default if self.default is not None else ""
        if self.type == "number":
            try:
                number = float(text)
            except ValueError:
                raise ValueError(f"{self.label} must be a number.") from None
            if self.minimum is not None and number < self.minimum:
                raise ValueError(f"{self.label} must be at least {self.minimum:g}.")
            if self.maximum is not None and number > self.maximum:
                raise ValueError(f"{self.label} must be at most {self.maximum:g}.")
            return int(number) if number.is_integer() else number
        if self.type == "choice" and text not in self.choices:
            raise ValueError(f"{self.label} must be one of: {', '.join(self.choices)}.")
        if len(text) > self.max_length:
            raise ValueError(f"{self.label} is {len(text)} characters; the limit is {self.max_length}.")
        return text


@dataclass(frozen=True)
class GenerationSettings:
    """Generation settings in plain words: creativity, length, variants."""

    creativity: float = 0.7  # temperature; 0 is always the same answer
    length: int = 160  # max new tokens
    variants: int = 1

    LIMITS = {"creativity": (0.0, 1.5), "length": (8, 1024), "variants": (1, 4)}

    def to_dict(self) -> dict[str, Any]:
        return {"creativity": self.creativity, "length": self.length, "variants": self.variants}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> GenerationSettings:
        """Parse and clamp; a value that is not a number raises InputError naming the setting."""
        data = data or {}
        values: dict[str, Any] = {}
        for name, (low, high) in cls.LIMITS.items():
            if data.get(name) in (None, ""):
                continue
            try:
                number = float(data[name])
            except (TypeError, ValueError):
                raise InputError({name: f"The {name} setting must be a number."}) from None
            number = min(max(number, low), high)
            values[name] = number if name == "creativity" else int(number)
        return cls(**values)


@dataclass(frozen=True)
class ProductTemplate:
    """A starting point in the template gallery."""

    id: str
    name: str
    description: str
    inputs: tuple[InputField, ...]
    system_prompt: str
    prompt_template: str
    settings: GenerationSettings = field(default_factory=GenerationSettings)


class ProductKind:
    """Base class of product kinds. Subclasses set the attributes and may override the hooks."""

    id: str = ""
    name: str = ""
    description: str = ""
    templates: tuple[ProductTemplate, ...] = ()
    #: Dataset columns a training example needs, e.g. {"output": "the text to learn to write"}.
    dataset_columns: dict[str, str] = {}

    def template(self, template_id: str) -> ProductTemplate:
        for template in self.templates:
            if template.id == template_id:
                return template
        raise KeyError(f"The {self.name} kind has no template {template_id!r}.")

    def validate_inputs(self, fields: list[InputField], data: dict[str, Any]) -> dict[str, Any]:
        """Clean every input; collect all problems so the person can fix them at once."""
        cleaned, errors = {}, {}
        for input_field in fields:
            try:
                cleaned[input_field.name] = input_field.clean(data.get(input_field.name))
            except ValueError as exc:
                errors[input_field.name] = str(exc)
        if errors:
            raise InputError(errors)
        return cleaned

    def build_messages(self, *, system_prompt: str, prompt_template: str, inputs: dict[str, Any]) -> list[dict]:
        """Turn cleaned inputs into chat messages for the engine."""
        user = render_prompt(prompt_template, inputs)
        messages = [{"role": "system", "content": system_prompt}] if system_prompt.strip() else []
        return [*messages, {"role": "user", "content": user}]

    def render_result(self, text: str) -> str:
        """The text shown to people; kinds may tidy the model's output."""
        return text.strip()


class _KeepMissing(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def render_prompt(template: str, inputs: dict[str, Any]) -> str:
    """Fill ``{name}`` placeholders; unknown placeholders stay visible instead of crashing."""
    return string.Formatter().vformat(template, (), _KeepMissing(inputs))


def prompt_placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}
