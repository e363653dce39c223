"""Forms for dataset pages. They check shape only; services decide what is allowed."""

from __future__ import annotations

from typing import Any

from django import forms

from products.datasets.cleanup import CLEANUPS
from products.datasets.mapping import Mapping, mapping_guess
from products.datasets.requirements import Shape, all_shapes, purpose_choices
from products.datasets.split import DEFAULT_SEED

MAX_SEED = 2**31 - 1
ACCEPT = ".csv,.tsv,.tab,.jsonl,.ndjson,.json,.txt,text/csv,text/plain,application/json"


class DatasetUploadForm(forms.Form):
    file = forms.FileField(
        label="File",
        allow_empty_file=True,  # the dataset doctor explains an empty file better than "empty file"
        widget=forms.FileInput(attrs={"accept": ACCEPT}),
    )
    name = forms.CharField(max_length=120, label="Dataset name", help_text="For example “Product descriptions”.")
    description = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), label="Description",
        help_text="Optional: where the examples come from.",
    )

    def __init__(self, *args: Any, new_dataset: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not new_dataset:
            del self.fields["name"], self.fields["description"]


def shape_for_key(key: str) -> Shape | None:
    return next((shape for shape in all_shapes() if shape.key == key), None)


class DatasetMappingForm(forms.Form):
    """Choose a use, map its fields to columns, choose the split. Fields depend on the chosen use."""

    purpose = forms.ChoiceField(label="What is this dataset for?", choices=purpose_choices)
    shown_purpose = forms.CharField(widget=forms.HiddenInput, required=False)
    validation_percent = forms.IntegerField(
        label="Hold out for validation (%)", min_value=0, max_value=50, initial=10,
        help_text="These rows are never trained on; they measure how well a fine-tune works.",
    )
    split_seed = forms.IntegerField(
        label="Split seed", min_value=0, max_value=MAX_SEED, initial=DEFAULT_SEED,
        help_text="The same seed always holds out the same rows.",
    )

    def __init__(
        self,
        data: Any = None,
        *,
        columns: list[str],
        purpose: str,
        mapping: Mapping | None = None,
        percent: int = 10,
        seed: int = DEFAULT_SEED,
    ) -> None:
        self.columns = columns
        self.switched = False
        key = purpose
        if data is not None:
            posted = data.get("purpose") or purpose
            key = posted if shape_for_key(posted) else purpose
            if data.get("shown_purpose") != key:
                # The person picked another use: show its fields with a fresh guess, not old choices.
                data = _with_mapping(data, key, mapping_guess(shape=shape_for_key(key), columns=columns))
                self.switched = True
        self.shape = shape_for_key(key) or all_shapes()[0]
        if mapping is None:
            mapping = mapping_guess(shape=self.shape, columns=columns)
        initial = {"purpose": self.shape.key, "shown_purpose": self.shape.key, "validation_percent": percent,
                   "split_seed": seed}
        for need in self.shape.needs:
            chosen = mapping.get(need.name, [])
            initial[f"map_{need.name}"] = chosen if need.multiple else (chosen[0] if chosen else "")
        super().__init__(data, initial=initial)
        choices = [(column, column) for column in columns]
        for need in self.shape.needs:
            if need.multiple:
                field: forms.Field = forms.MultipleChoiceField(
                    choices=choices, required=False, widget=forms.CheckboxSelectMultiple,
                )
            else:
                blank = "— choose a column —" if need.required else "— none —"
                field = forms.ChoiceField(choices=[("", blank), *choices], required=False)
            field.label = need.label if need.required else f"{need.label} (optional)"
            field.help_text = need.help
            self.fields[f"map_{need.name}"] = field

    def mapping_fields(self) -> list[forms.BoundField]:
        return [self[f"map_{need.name}"] for need in self.shape.needs]

    def mapping(self) -> Mapping:
        """The chosen columns per canonical field (call after is_valid)."""
        result: Mapping = {}
        for need in self.shape.needs:
            value = self.cleaned_data.get(f"map_{need.name}")
            result[need.name] = list(value) if isinstance(value, list | tuple) else ([value] if value else [])
        return result

    def current_mapping(self) -> Mapping:
        """The mapping as shown, valid or not (for the example preview)."""
        if not self.is_bound:
            return {need.name: _as_list(self.initial.get(f"map_{need.name}")) for need in self.shape.needs}
        self.is_valid()
        mapping: Mapping = {}
        for need in self.shape.needs:
            name = f"map_{need.name}"
            if name in self.cleaned_data:
                mapping[need.name] = _as_list(self.cleaned_data[name])
            else:  # an invalid choice: show what was posted
                posted = self.data.getlist(name) if hasattr(self.data, "getlist") else self.data.get(name)
                mapping[need.name] = _as_list(posted)
        return mapping

    def add_service_errors(self, errors: dict[str, list[str]]) -> None:
        """Put a service's ValidationError (keyed by canonical field or setting) next to its form field."""
        for key, messages in errors.items():
            name = key if key in self.fields else f"map_{key}"
            if key == "validation_fraction":
                name = "validation_percent"
            for message in messages:
                self.add_error(name if name in self.fields else None, message)


def _as_list(value: Any) -> list[str]:
    if not value:
        return []
    return [value] if isinstance(value, str) else [item for item in value if item]


def _with_mapping(data: Any, key: str, mapping: Mapping) -> Any:
    data = data.copy()
    shape = shape_for_key(key)
    assert shape is not None
    for need in shape.needs:
        chosen = mapping.get(need.name, [])
        if hasattr(data, "setlist"):
            data.setlist(f"map_{need.name}", chosen)
        else:
            data[f"map_{need.name}"] = chosen if need.multiple else (chosen[0] if chosen else "")
    data["shown_purpose"] = key
    return data


class DatasetCleanupForm(forms.Form):
    actions = forms.MultipleChoiceField(
        label="Clean-ups", choices=list(CLEANUPS.items()), widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one clean-up."},
    )
