from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from products.embed.origins import origins_parse
from products.embed.services import LIMIT_RANGE
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


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=80, label="Name", help_text="Where the key is used, e.g. “Shop backend”.")
    scope = forms.ChoiceField(
        choices=ApiKey.Scope.choices, initial=ApiKey.Scope.GENERATE, widget=forms.RadioSelect, label="Can",
        help_text="Read only: list products, versions, datasets and generations. Read and generate: also "
                  "generate and rate answers. Manage: also upload datasets and start or stop fine-tunes.",
    )
