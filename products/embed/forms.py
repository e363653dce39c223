from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from products.embed.origins import origins_parse
from products.embed.services import LIMIT_RANGE, WIDGET_TEXT_LIMITS
from products.kinds.inputs import InputField
from products.models import ApiKey


class EmbedSettingsForm(forms.Form):
    allowed_origins = forms.CharField(
        label="Allowed websites", required=False, widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
        help_text="One per line, as scheme and host, e.g. https://shop.example or http://localhost:8000. "
                  "The widget connects only from these websites.",
    )
    messages_per_visitor_hour = forms.IntegerField(
        label="Messages per visitor per hour", min_value=LIMIT_RANGE[0], max_value=LIMIT_RANGE[1],
        help_text="Counted by the visitor's network address.",
    )
    messages_per_day = forms.IntegerField(
        label="Messages per day, all visitors together", min_value=LIMIT_RANGE[0], max_value=LIMIT_RANGE[1],
    )

    def clean_allowed_origins(self) -> list[str]:
        try:
            return origins_parse(self.cleaned_data["allowed_origins"])
        except ValidationError as exc:
            raise ValidationError(exc.messages) from None


class WidgetForm(forms.Form):
    """What the widget shows, and a default for each input a visitor's message leaves empty (built per product)."""

    title = forms.CharField(
        label="Title", required=False, max_length=WIDGET_TEXT_LIMITS["title"],
        help_text="At the top of the chat. Empty: the product's name.",
    )
    placeholder = forms.CharField(
        label="Placeholder", required=False, max_length=WIDGET_TEXT_LIMITS["placeholder"],
        help_text="The grey hint in the empty message box. Empty: the name of the input a message fills.",
    )
    greeting = forms.CharField(
        label="Greeting", required=False, max_length=WIDGET_TEXT_LIMITS["greeting"],
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="The first message a visitor reads, before typing. Empty: none.",
    )

    def __init__(self, *args, inputs: list[InputField], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for field in inputs:  # the input's own form field (choices, numbers, limits), optional here
            form_field = field.form_field()
            form_field.required = False
            form_field.help_text = field.help_text + (
                " Required: left empty, the widget cannot answer." if field.required else "")
            form_field.initial = field.default
            if isinstance(form_field, forms.ChoiceField):
                form_field.choices = [("", "No default"), *form_field.choices]
            self.fields[f"default_{field.name}"] = form_field
        self.inputs = inputs

    @property
    def default_fields(self) -> list[forms.BoundField]:
        return [self[f"default_{field.name}"] for field in self.inputs]

    @property
    def text_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in ("title", "placeholder", "greeting")]

    def defaults(self) -> dict[str, object]:
        """The cleaned defaults by input name ("" where none was given)."""
        return {field.name: self.cleaned_data.get(f"default_{field.name}") for field in self.inputs}


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=80, label="Name", help_text="Where the key is used, e.g. “Shop backend”.")
    scope = forms.ChoiceField(
        choices=ApiKey.Scope.choices, initial=ApiKey.Scope.GENERATE, widget=forms.RadioSelect, label="Can",
        help_text="Read only: list products, versions, datasets and generations. Read and generate: also "
                  "generate and rate answers. Manage: also upload datasets and start or stop fine-tunes.",
    )
