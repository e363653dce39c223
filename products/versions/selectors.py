"""Reads for one saved version: its settings in words and what changed since the version before it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from products.base_models.selectors import base_model_label
from products.kinds import get_kind
from products.kinds.settings import LIMITS
from products.models import Product, ProductVersion
from products.models.product import ProductConfig
from products.services import product_version_diff
from products.versions.diff import TextDiff, text_diff

#: Kind settings that no kind declares as a config field, in words (kinds' own config_fields bring their labels).
KIND_CONFIG_LABELS = {
    "top_k": "Passages to use",
    "threshold": "How sure before answering",
    "abstain_text": "“I don't know” answer",
    "handoff": "“Talk to a person” line",
    "one_line": "One line only",
    "message_input": "A chat message fills",
    "examples": "Worked examples in the prompt",
}
WIDGET_LABELS = {"title": "Widget title", "placeholder": "Widget placeholder", "greeting": "Widget greeting"}


@dataclass(frozen=True)
class Setting:
    label: str
    value: str


@dataclass(frozen=True)
class VersionDetail:
    version: ProductVersion
    previous: ProductVersion | None
    is_live: bool
    #: The prompt and system prompt against ``previous`` (None for the first version).
    diffs: list[TextDiff] | None
    changes: list[str]
    settings: list[Setting]
    #: Whether the draft already holds exactly this version's settings.
    draft_matches: bool


def _words(value: Any) -> str:
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if value in (None, "", [], {}):
        return "—"
    return str(value)


def _kind_settings(product: Product, config: ProductConfig) -> list[Setting]:
    kind = get_kind(product.kind)
    labels = {**KIND_CONFIG_LABELS, **{field.name: field.label for field in kind.config_fields}}
    input_labels = {field["name"]: field.get("label", field["name"]) for field in config.input_schema}
    rows = []
    for name, value in (config.kind_config or {}).items():
        if name == "examples":
            value = f"{len(value)}" if isinstance(value, list) else value
        elif name == "message_input":
            value = input_labels.get(value, value)
        rows.append(Setting(labels.get(name, name.replace("_", " ").capitalize()), _words(value)))
    return rows


def version_settings_in_words(*, product: Product, config: ProductConfig) -> list[Setting]:
    """Everything that decides what ``config`` (a version, or the draft) answers, as labelled plain text."""
    generation = config.settings or {}
    rows = [Setting(label, _words(generation.get(name))) for name, (label, *_rest) in LIMITS.items()]
    inputs = [
        f"{field.get('label', field['name'])}{'' if field.get('required', True) else ' (optional)'}"
        + (f" — default “{field['default']}”" if field.get("default") not in (None, "") else "")
        for field in config.input_schema
    ]
    rows.append(Setting("Inputs", "; ".join(inputs) or "—"))
    rows.append(Setting("Base model", base_model_label(team=product.team, base_model=config.base_model)))
    artifact = config.fine_tuned_artifact
    rows.append(
        Setting(
            "Fine-tuned model",
            (
                f"{artifact.get_kind_display()} from training run {artifact.run_id}, {artifact.created_at:%-d %b %Y}"
                if artifact
                else "None: the base model alone"
            ),
        )
    )
    if product.answers_from_knowledge or config.knowledge_version_id:
        rows.append(Setting("Knowledge base", str(config.knowledge_version) if config.knowledge_version else "None"))
    rows.append(
        Setting(
            "Engine",
            (
                f"{config.remote_engine} (remote), model {config.remote_model}"
                if config.remote_engine
                else "This studio's own engine"
            ),
        )
    )
    rows += _kind_settings(product, config)
    rows += [Setting(label, _words((config.widget or {}).get(name))) for name, label in WIDGET_LABELS.items()]
    return rows


def version_detail_get(*, product: Product, version: ProductVersion) -> VersionDetail:
    previous = (
        product.versions.filter(number__lt=version.number)
        .select_related("knowledge_version__dataset")
        .order_by("-number")
        .first()
    )
    diffs = None
    if previous is not None:
        diffs = [
            text_diff(label="Prompt", old=previous.prompt_template, new=version.prompt_template),
            text_diff(label="Instructions (system prompt)", old=previous.system_prompt, new=version.system_prompt),
        ]
    return VersionDetail(
        version=version,
        previous=previous,
        is_live=product.live_version_id == version.pk,
        diffs=diffs,
        changes=product_version_diff(previous.config() if previous else None, version.config()),
        settings=version_settings_in_words(product=product, config=version),
        draft_matches=product.config() == version.config(),
    )
