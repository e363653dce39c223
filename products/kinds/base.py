"""What a product kind is: its templates, typed inputs, prompts and how results render.

A kind is a plugin: views, consumers and the worker only call the methods here, so adding a kind
means adding one module under products/kinds/ and one import in its __init__.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

# The names kinds and older callers import from here; prompts.py holds the template rules.
from products.kinds.prompts import PromptTooLong, prompt_char_limit, render_prompt
from products.kinds.prompts import template_placeholders as prompt_placeholders  # noqa: F401


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
                number = math.nan
            if not math.isfinite(number):  # "nan", "inf" and 1e400 parse as floats but are no answer
                raise ValueError(f"{self.label} must be a number.")
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
            except (TypeError, ValueError, OverflowError):
                number = math.nan
            if not math.isfinite(number):  # "nan" would reach the sampler as a temperature
                raise InputError({name: f"The {name} setting must be a number."})
            number = min(max(number, low), high)
            values[name] = number if name == "creativity" else int(number)
        return cls(**values)


@dataclass(frozen=True)
class TrainingConversation:
    """One fine-tuning example: the chat messages a product sends, and the reply the model learns to give."""

    messages: list[dict[str, str]]
    reply: str


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
        limit = prompt_char_limit()
        try:  # refused here, before the engine tokenises anything on the thread every team shares
            user = render_prompt(prompt_template, inputs, max_chars=max(limit - len(system_prompt), 0))
        except PromptTooLong:
            # Named under the longest input, so the form marks the field to shorten.
            longest = max(inputs, key=lambda name: len(str(inputs[name])), default="prompt")
            raise InputError({longest: (
                f"This makes the prompt longer than {limit:,} characters, the most the model reads; shorten it."
            )}) from None
        messages = [{"role": "system", "content": system_prompt}] if system_prompt.strip() else []
        return [*messages, {"role": "user", "content": user}]

    def render_result(self, text: str) -> str:
        """The text shown to people; kinds may tidy the model's output."""
        return text.strip()

    def training_conversation(
        self, *, example: dict[str, Any], rendered: list[Any], prompt_config: dict[str, Any]
    ) -> TrainingConversation | None:
        """Turn one dataset example into a fine-tuning conversation, or None when it teaches no reply.

        ``rendered`` is the example as the dataset page shows it (blocks, the learnt one marked) and
        ``prompt_config`` the product's system prompt, prompt template and input schema. When the example
        holds every required input of the product, the conversation is exactly what the playground will
        send, so the tuned model learns the prompt it will be asked; otherwise it is the dataset's rendering.
        """
        reply = next((block.text for block in reversed(rendered) if block.learnt), None)
        if not reply:
            return None  # passages and catalogs: nothing to learn to write
        fields = [InputField.from_dict(data) for data in prompt_config.get("input_schema", [])]
        values = _flat_values(example)
        for input_field in fields:  # what the form shows pre-filled counts as given (a tone, a word limit)
            if input_field.default is not None:
                values.setdefault(input_field.name, input_field.default)
        try:
            inputs = self.validate_inputs(fields, values) if fields else None
        except InputError:
            inputs = None
        if inputs is not None:
            messages = self.build_messages(
                system_prompt=prompt_config.get("system_prompt", ""),
                prompt_template=prompt_config.get("prompt_template", ""),
                inputs=inputs,
            )
            return TrainingConversation(messages, reply)
        roles = {"system": "system", "user": "user"}
        messages = [
            {"role": roles[block.label.lower()], "content": block.text}
            for block in rendered
            if not block.learnt and block.label.lower() in roles
        ]
        return TrainingConversation(messages, reply) if messages else None


def _flat_values(example: dict[str, Any]) -> dict[str, Any]:
    """A dataset example's values by name: multi-column fields ({column: value}) are spread out."""
    values: dict[str, Any] = {}
    for name, value in example.items():
        if isinstance(value, dict):
            values.update(value)
        else:
            values[name] = value
    return values
