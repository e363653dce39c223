"""The form that starts a blind comparison: two versions, where the inputs come from, how many."""

from __future__ import annotations

from typing import Any

from django import forms

from products.models import Comparison
from products.models.comparison import DEFAULT_SIZE, MAX_SIZE, MIN_SIZE


def _version_label(version) -> str:
    note = f" · {version.note}" if version.note else ""
    return f"Version {version.number}{note}"


class ComparisonForm(forms.Form):
    version_a = forms.ModelChoiceField(queryset=None, label="Version A", empty_label=None,
                                       help_text="Usually the live version.")
    version_b = forms.ModelChoiceField(queryset=None, label="Version B", empty_label=None,
                                       help_text="The one you want to know is better (a new prompt, a fine-tune).")
    source = forms.ChoiceField(choices=Comparison.Source.choices, initial=Comparison.Source.RECENT,
                               widget=forms.RadioSelect, label="Inputs to compare on")
    dataset_version = forms.ModelChoiceField(
        queryset=None, required=False, label="Dataset version", empty_label="None",
        help_text="For held-out rows: the rows it kept aside from training, so neither version learnt them.",
    )
    size = forms.IntegerField(min_value=MIN_SIZE, max_value=MAX_SIZE, initial=DEFAULT_SIZE, label="How many inputs",
                              help_text=f"{MIN_SIZE} to {MAX_SIZE}; each one is written by both versions.")

    def __init__(self, *args: Any, versions, dataset_versions, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("version_a", "version_b"):
            self.fields[name].queryset = versions
            self.fields[name].label_from_instance = _version_label
        self.fields["dataset_version"].queryset = dataset_versions
        self.fields["dataset_version"].label_from_instance = (
            lambda v: f"{v.dataset.name} v{v.number} · {v.validation_count} held out"
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("version_a") and data.get("version_a") == data.get("version_b"):
            self.add_error("version_b", "Pick two different versions.")
        return data
