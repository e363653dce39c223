"""Reads for the Models page and the base-model choices of a version: always scoped to one team."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.shortcuts import get_object_or_404

from inference.model_folder import LOCAL_PREFIX, ModelCandidate, is_local, model_candidates
from inference.registry import BASE_MODELS
from products.models import Product, RegisteredModel, Release
from studio.models import Team


@dataclass(frozen=True)
class CandidateRow:
    candidate: ModelCandidate
    registered: RegisteredModel | None


def registered_model_list_for_team(*, team: Team) -> list[RegisteredModel]:
    return list(RegisteredModel.objects.filter(team=team).order_by("name"))


def registered_model_get(*, team: Team, model_id: int) -> RegisteredModel:
    """The team's registered model; 404 for another team's."""
    return get_object_or_404(RegisteredModel, team=team, pk=model_id)


def registered_model_users(*, model: RegisteredModel) -> list[str]:
    """What would stop answering if ``model`` were unregistered: drafts, live versions and A/B candidates using it."""
    base_model, team = model.model_id, model.team
    drafts = Product.objects.filter(team=team, base_model=base_model).order_by("name")
    uses = [f"the draft of “{p.name}”" for p in drafts]
    live = (Product.objects.filter(team=team, live_version__base_model=base_model).select_related("live_version")
            .order_by("name"))
    uses += [f"“{p.name}” v{p.live_version.number} (live)" for p in live]
    running = Release.objects.filter(team=team, stopped_at__isnull=True, candidate__base_model=base_model)
    uses += [f"“{r.product.name}” v{r.candidate.number} (in an A/B split)"
             for r in running.select_related("product", "candidate").order_by("product__name")]
    return uses


def base_model_unregistered(*, team_id: int, base_model: str) -> str:
    """Why a saved version on ``base_model`` cannot answer for team ``team_id`` any more ("" when it can).

    The team's id, not the team: every generation asks, and loading the team would cost a query before its first
    token (bundled models, the usual case, need no query at all).
    """
    name = base_model.removeprefix(LOCAL_PREFIX)
    if not is_local(base_model) or RegisteredModel.objects.filter(team_id=team_id, name=name).exists():
        return ""
    return (f"This version writes with {name}, which is no longer registered for "
            "this team: a team admin registers it again on the Models page, or publish a version on another model.")


def model_candidate_list(*, team: Team) -> list[CandidateRow]:
    """What the operator put in the models folder (bundled installs left out), with this team's registrations."""
    mine = {model.name: model for model in registered_model_list_for_team(team=team)}
    return [CandidateRow(candidate, mine.get(candidate.name))
            for candidate in model_candidates(Path(settings.MODELS_DIR), skip=tuple(BASE_MODELS))]


def base_model_choices(*, team: Team) -> list[tuple[str, str]]:
    """(base_model id, label) a version of this team may write with: the bundled text models, then its own."""
    bundled = [(m.id, f"{m.label} (bundled)") for m in BASE_MODELS.values() if m.task == "causal-lm"]
    return bundled + [(m.model_id, f"{m.name} ({m.get_format_display()})")
                      for m in registered_model_list_for_team(team=team)]


def base_model_label(*, team: Team, base_model: str) -> str:
    return dict(base_model_choices(team=team)).get(base_model, base_model)


def fine_tunable(*, team: Team, base_model: str) -> tuple[bool, str]:
    """Whether fine-tuning can train ``base_model`` for ``team``, and the sentence that says so."""
    bundled = BASE_MODELS.get(base_model)
    if bundled is not None:
        if bundled.task == "causal-lm":
            return True, f"Fine-tuning trains {bundled.label} with torch."
        return False, f"{bundled.label} is not a text model that can be fine-tuned."
    model = RegisteredModel.objects.filter(team=team, name=base_model.removeprefix("local:")).first()
    if model is None or not base_model.startswith("local:"):
        return False, f"{base_model} is not a model this team registered."
    if model.format != RegisteredModel.Format.HF:
        return False, (f"{model.name} is a GGUF model: it serves with llama.cpp but cannot be fine-tuned. Register "
                       "its Hugging Face folder (safetensors) to fine-tune it.")
    return True, f"Fine-tuning trains {model.name} (a Hugging Face folder) with torch."
