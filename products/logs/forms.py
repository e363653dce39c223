"""The Logs tab's forms: the filters (a GET form), a correction, "add to a dataset"."""

from __future__ import annotations

from django import forms

from products.logs.selectors import DRAFT, FEEDBACK_CHOICES, LogFilters
from products.models import Dataset, Generation, Product

CHANNEL_CHOICES = [("", "Any channel"), *Generation.Channel.choices]


class LogFilterForm(forms.Form):
    version = forms.ChoiceField(required=False, label="Version")
    channel = forms.ChoiceField(required=False, choices=CHANNEL_CHOICES, label="Channel")
    feedback = forms.ChoiceField(required=False, choices=FEEDBACK_CHOICES, label="Feedback")
    date_from = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}),
                                error_messages={"invalid": "Write the first day as YYYY-MM-DD, e.g. 2026-01-31."})
    date_to = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}),
                              error_messages={"invalid": "Write the last day as YYYY-MM-DD, e.g. 2026-01-31."})
    q = forms.CharField(required=False, max_length=200, label="Search", widget=forms.TextInput(
        attrs={"type": "search", "placeholder": "Words in the inputs or answer"}))
    before = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1, widget=forms.HiddenInput)

    def __init__(self, data, *, product: Product) -> None:
        super().__init__(data)
        numbers = product.versions.order_by("-number").values_list("number", flat=True)
        self.fields["version"].choices = [("", "Any version"), (DRAFT, "Draft (playground)"),
                                          *((str(n), f"Version {n}") for n in numbers)]

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "The last day comes before the first; swap them.")
        return data

    def filters(self) -> LogFilters:
        """The valid filters (an invalid one is left out; the page says why next to it)."""
        data = self.cleaned_data if self.is_bound and hasattr(self, "cleaned_data") else {}
        version = data.get("version") or None
        return LogFilters(
            version=version if version in (None, DRAFT) else int(version),
            channel=data.get("channel") or "",
            feedback=data.get("feedback") or "",
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            q=data.get("q") or "",
        )


class CorrectionForm(forms.Form):
    text = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 5}), label="What it should have said")
    # A select, checked by the service (generation_correct), whose message names the labels there are.
    label = forms.CharField(required=False, max_length=200, label="The right label", widget=forms.Select)

    def __init__(self, data=None, *, labels: list[str] | None = None, initial=None) -> None:
        super().__init__(data, initial=initial)
        self.fields["label"].widget.choices = [("", "Pick a label"), *((label, label) for label in labels or [])]


class AddToDatasetForm(forms.Form):
    SELECTED, GOOD_AND_CORRECTED = "selected", "good_and_corrected"

    which = forms.ChoiceField(choices=[(SELECTED, "The ticked answers"),
                                       (GOOD_AND_CORRECTED, "All 👍 and all corrected answers matching the filters")],
                              initial=SELECTED, widget=forms.RadioSelect, label="Which answers")
    dataset = forms.ModelChoiceField(queryset=Dataset.objects.none(), required=False, empty_label="A new dataset",
                                     label="Add to",
                                     error_messages={"invalid_choice": "Pick one of your team's datasets."})
    name = forms.CharField(required=False, max_length=120, label="New dataset's name")

    def __init__(self, data=None, *, product: Product) -> None:
        super().__init__(data)
        self.fields["dataset"].queryset = Dataset.objects.filter(team=product.team).order_by("name")
        self.fields["name"].initial = f"{product.name} answers"

    def clean(self):
        data = super().clean()
        # The ticked rows' checkboxes (``ids``); ids of other products are dropped by the selector.
        data["ids"] = [int(value) for value in self.data.getlist("ids") if str(value).isdigit()][:10_000]
        if data.get("which") == self.SELECTED and not data.get("ids"):
            raise forms.ValidationError("Tick the answers to add, or choose “all 👍 and all corrected”.")
        if not data.get("dataset") and not (data.get("name") or "").strip():
            self.add_error("name", "Name the new dataset, or pick one to add to.")
        return data
