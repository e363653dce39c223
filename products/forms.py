from __future__ import annotations

from django import forms

from products.kinds.settings import settings_form_fields


class NewProductForm(forms.Form):
    kind = forms.CharField(widget=forms.HiddenInput)
    template = forms.CharField(widget=forms.HiddenInput)
    name = forms.CharField(max_length=120, required=False, label="Name",
                           help_text="Leave empty to use the template's name.")
    # Answer kinds: the id of one of the team's dataset versions (the view looks it up within the team).
    knowledge_version = forms.IntegerField(required=False, min_value=1, label="Knowledge base",
                                           error_messages={"invalid": "Pick one of your datasets."})


class KnowledgeForm(forms.Form):
    """A Q&A product's knowledge base and how it uses it, in plain words (limits: products/kinds/qa.py)."""

    knowledge_version = forms.ModelChoiceField(
        queryset=None, required=False, label="Knowledge base", empty_label="None yet",
        help_text="A dataset of your documents (one passage per row) or of questions and answers.",
        error_messages={"invalid_choice": "Pick one of your team's datasets mapped as Q&A documents or pairs."},
    )
    top_k = forms.IntegerField(min_value=1, max_value=8, label="How many passages to use",
                               help_text="The passages found for a question that the answer is written from (1–8).")
    threshold = forms.FloatField(
        min_value=0, max_value=1, label="How sure before answering",
        widget=forms.NumberInput(attrs={"type": "range", "step": "0.01", "min": "0", "max": "1"}),
        help_text="Higher: says “I don't know” more often rather than answer from a weak match.",
    )
    abstain_text = forms.CharField(
        max_length=500, label="“I don't know” sentence",
        help_text="What the assistant says when your documents do not answer.",
        error_messages={"required": "Write the sentence the assistant says when your documents do not answer."},
    )
    handoff = forms.CharField(max_length=300, required=False, label="“Talk to a person” line",
                              help_text="Optional: added after “I don't know”, e.g. “Email support@shop.example”.")

    def __init__(self, *args, versions, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["knowledge_version"].queryset = versions
        words = {"top_k": "How many passages to use must be a whole number from 1 to 8.",
                 "threshold": "How sure before answering must be a number from 0 to 1."}
        for name, message in words.items():
            self.fields[name].error_messages.update(
                {"invalid": message, "min_value": message, "max_value": message, "required": message}
            )


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input (Django's documented pattern): cleans to a list."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": ".md,.markdown,.html,.htm,.pdf"}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data]
        return [single(data, initial)] if data else single(data, initial)


class KnowledgeDocumentsForm(forms.Form):
    """Help-centre pages to answer from: Markdown, HTML or PDF files, saved as one dataset of sections."""

    name = forms.CharField(max_length=120, label="Dataset name", initial="Help-centre pages",
                           help_text="The pages are saved as a dataset under this name, one passage per section.",
                           error_messages={"required": "Give the dataset a name, e.g. “Help-centre pages”."})
    files = MultipleFileField(
        label="Pages", help_text="Markdown (.md), HTML (.html) or PDF files; each heading starts a passage titled "
                                 "by its headings (“Returns › Refunds”).",
        error_messages={"required": "Choose one or more Markdown, HTML or PDF files."})


class EvaluationForm(forms.Form):
    """Which test questions a Q&A assistant's retrieval is measured on."""

    test_version = forms.ModelChoiceField(
        queryset=None, label="Test questions", empty_label=None,
        help_text="A dataset mapped as “Q&A: test questions”: a question, the answer or passage it should find, "
                  "and optionally “no” in a should-answer column for questions your documents cannot answer.",
        error_messages={"invalid_choice": "Pick one of your team's datasets mapped as test questions.",
                        "required": "Pick the test questions to evaluate on."},
    )

    version = forms.ModelChoiceField(
        queryset=None, required=False, label="Which assistant", empty_label="The draft (what the playground uses)",
        help_text="A saved version is searched with the documents and settings it was saved with.",
        error_messages={"invalid_choice": "Pick the draft or one of this assistant's versions."},
    )

    def __init__(self, *args, versions, product_versions, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["test_version"].queryset = versions
        self.fields["version"].queryset = product_versions
        self.fields["version"].label_from_instance = lambda version: (
            f"Version {version.number}{' (live)' if version.pk == version.product.live_version_id else ''}")


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


class BaseModelForm(forms.Form):
    """Which base model this studio's engine writes with: a bundled one or one the team registered."""

    base_model = forms.ChoiceField(
        choices=(), label="Base model",
        help_text="Bigger models write better copy and answer more slowly. Admins register more on the Models page.",
        error_messages={"invalid_choice": "Pick one of the models listed; admins register others on the Models page."},
    )

    def __init__(self, *args, choices: list[tuple[str, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["base_model"].choices = choices


class EngineForm(forms.Form):
    """Which engine writes a product's answers: this studio, or one of the operator's remote engines (by name)."""

    remote_engine = forms.ChoiceField(
        choices=(), required=False, label="Engine",
        help_text="A remote engine is an OpenAI-compatible server (vLLM, llama.cpp) the studio's operator allowed.",
        error_messages={"invalid_choice": "Pick this studio or one of the engines listed; the operator adds others."},
    )
    remote_model = forms.CharField(max_length=200, required=False, label="Model on that engine",
                                   help_text="The model or fine-tuned adapter name the server serves, e.g. "
                                             "“Qwen/Qwen2.5-1.5B-Instruct”.")
    api_key = forms.CharField(max_length=500, required=False, label="API key (optional)", strip=True,
                              widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
                              help_text="Stored encrypted and never shown again. Leave empty to keep the one set.")
    clear_api_key = forms.BooleanField(required=False, label="Remove the saved API key")

    def __init__(self, *args, choices: list[tuple[str, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["remote_engine"].choices = choices

    def clean(self):
        data = super().clean()
        if data.get("remote_engine") and not data.get("remote_model", "").strip():
            self.add_error("remote_model", "Name the model to use on that engine (GET /v1/models on it lists them).")
        return data


class LabelFileForm(forms.Form):
    """Which texts to label, and which trained version labels them."""

    dataset_version = forms.ModelChoiceField(
        queryset=None, label="Texts to label", empty_label=None,
        help_text="A dataset mapped as “Classification: texts to label” (or a labelled one, to compare).",
        error_messages={"invalid_choice": "Pick one of your team's datasets mapped as texts to label.",
                        "required": "Pick the dataset of texts to label."},
    )
    version = forms.ModelChoiceField(
        queryset=None, label="Classifier version", empty_label=None,
        help_text="The trained version that labels them; the live one is picked first.",
        error_messages={"invalid_choice": "Pick one of this product's trained versions.",
                        "required": "Pick the trained version that labels the texts."},
    )

    def __init__(self, *args, datasets, versions, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["dataset_version"].queryset = datasets
        self.fields["version"].queryset = versions
        self.fields["version"].label_from_instance = lambda version: f"Version {version.number}"
