from __future__ import annotations

from django import forms

from products.kinds.settings import settings_form_fields


class NewProductForm(forms.Form):
    kind = forms.CharField(widget=forms.HiddenInput)
    template = forms.CharField(widget=forms.HiddenInput)
    name = forms.CharField(max_length=120, required=False, label="Name",
                           help_text="Leave empty to use the template's name.")


class DraftForm(forms.Form):
    system_prompt = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False,
                                    label="Instructions", help_text="How the model should behave, in plain words.")
    prompt_template = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), label="Prompt",
                                      help_text="Use {input_name} to insert what people type.")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields.update(settings_form_fields(required=True))  # the one set of limits (products/kinds/settings.py)


class VersionForm(forms.Form):
    note = forms.CharField(max_length=300, required=False, label="What changed?",
                           widget=forms.TextInput(attrs={"placeholder": "e.g. Shorter, friendlier headlines"}))


class FeedbackForm(forms.Form):
    value = forms.TypedChoiceField(choices=[("1", "good"), ("-1", "bad"), ("0", "none")], coerce=int)
