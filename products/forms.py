from __future__ import annotations

from django import forms


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
    creativity = forms.FloatField(min_value=0, max_value=1.5, label="Creativity",
                                  help_text="0 gives the same answer every time; higher is more varied.")
    length = forms.IntegerField(min_value=8, max_value=1024, label="Length (tokens)",
                                help_text="About ¾ of a word per token.")
    variants = forms.IntegerField(min_value=1, max_value=4, label="Variants",
                                  help_text="How many alternatives to write side by side.")


class VersionForm(forms.Form):
    note = forms.CharField(max_length=300, required=False, label="What changed?",
                           widget=forms.TextInput(attrs={"placeholder": "e.g. Shorter, friendlier headlines"}))


class FeedbackForm(forms.Form):
    value = forms.TypedChoiceField(choices=[("1", "good"), ("-1", "bad"), ("0", "none")], coerce=int)
