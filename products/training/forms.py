from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import F, QuerySet

from products.training.hyperparameters import MIN_TRAIN_EXAMPLES, HyperParameters

#: The settings a person may change under "Advanced settings"; empty means "choose for me".
ADVANCED = ("epochs", "learning_rate", "batch_size", "max_length", "lora_rank", "checkpoint_every")
HELP = {
    "epochs": "Passes over the training examples. More learns the style more closely, and can over-fit.",
    "learning_rate": "How big each adjustment is. Lower is slower and safer.",
    "batch_size": "Examples per step. Smaller uses less memory (try it if a run runs out of memory).",
    "max_length": "Longer examples lose the end of their text. Left empty, the limit the estimate states is used.",
    "lora_rank": "Size of the adapter. Bigger can learn more, and takes longer.",
    "checkpoint_every": "Steps between saved checkpoints; an interrupted run resumes from the last one.",
}


def big_enough_versions(versions: QuerySet) -> QuerySet:
    """The versions with enough training rows (those not held out) to fine-tune on."""
    return versions.filter(row_count__gte=F("validation_count") + MIN_TRAIN_EXAMPLES)


def _version_label(version) -> str:
    label = f"{version.dataset.name} v{version.number} · {version.train_count} to train on, " \
            f"{version.validation_count} held out"
    return label if version.train_count >= MIN_TRAIN_EXAMPLES else f"{label} (too few to train on)"


class FineTuneForm(forms.Form):
    dataset_version = forms.ModelChoiceField(
        queryset=None, label="Dataset version", empty_label=None,
        help_text="The examples to learn from. Its held-out rows are used for the evaluation report.",
    )

    def __init__(self, *args: Any, versions, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["dataset_version"]
        field.queryset = versions
        field.label_from_instance = _version_label
        if not self.is_bound and self.initial.get("dataset_version") is None:
            # No version is big enough: a prompt instead of a preselected one that would be refused.
            field.empty_label = "Choose a dataset version"
        for name in ADVANCED:
            low, high, label = HyperParameters.LIMITS[name]
            field_class = forms.FloatField if name == "learning_rate" else forms.IntegerField
            self.fields[name] = field_class(
                required=False, min_value=low, max_value=high, label=label, help_text=HELP[name],
                widget=forms.NumberInput(attrs={"placeholder": "automatic", "step": "any"}),
            )

    def basic_fields(self) -> list:
        return [self["dataset_version"]]

    def advanced_fields(self) -> list:
        return [self[name] for name in ADVANCED]

    def overrides(self) -> dict[str, Any]:
        """The advanced values a person filled in (call after is_valid)."""
        return {name: self.cleaned_data[name] for name in ADVANCED if self.cleaned_data.get(name) is not None}


class RecommenderTrainForm(forms.Form):
    """The recommender's Train tab: its two datasets. ALS's settings are chosen for the person (no advanced box)."""

    dataset_version = forms.ModelChoiceField(
        queryset=None, label="Interactions", empty_label=None,
        help_text="Who bought, viewed or rated which item. Each user's latest interactions are held out for the "
                  "report.",
    )
    catalog_version = forms.ModelChoiceField(
        queryset=None, label="Catalog", empty_label=None,
        help_text="The items to recommend, with the text that describes them.",
    )

    def __init__(self, *args: Any, versions, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["dataset_version"].queryset = versions.filter(shape="interactions")
        self.fields["catalog_version"].queryset = versions.filter(shape="catalog")
        for name in ("dataset_version", "catalog_version"):
            self.fields[name].label_from_instance = lambda v: f"{v.dataset.name} v{v.number} · {v.row_count:,} rows"

    def basic_fields(self) -> list:
        return [self["dataset_version"], self["catalog_version"]]

    def advanced_fields(self) -> list:
        return []

    def overrides(self) -> dict[str, Any]:
        return {}
