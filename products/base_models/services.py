"""Registering a model of the operator's folder for a team, and choosing a draft's base model."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from inference.model_folder import ModelFolderError, inspect
from inference.registry import BASE_MODELS
from products.base_models.selectors import base_model_choices
from products.models import Product, RegisteredModel
from studio.models import Team


@transaction.atomic
def registered_model_create(*, team: Team, name: str, user) -> RegisteredModel:
    """Register ``name`` (an entry directly in the models folder) for ``team``, with what its files are now."""
    if name in BASE_MODELS:
        raise ValidationError({"name": f"“{name}” is a bundled model; every team has it already."})
    try:
        candidate = inspect(Path(settings.MODELS_DIR), name)
    except ModelFolderError as exc:
        raise ValidationError({"name": str(exc)}) from None
    if RegisteredModel.objects.filter(team=team, name=candidate.name).exists():
        raise ValidationError({"name": f"“{candidate.name}” is registered for this team already."})
    model = RegisteredModel(team=team, name=candidate.name, format=candidate.format,
                            size_bytes=candidate.size_bytes, parameters=candidate.parameters,
                            architecture=candidate.architecture[:60], licence_note=candidate.licence_note,
                            registered_by=user)
    model.full_clean()
    model.save()
    return model


@transaction.atomic
def product_base_model_update(*, product: Product, base_model: str) -> Product:
    """Point the draft at a bundled model or one its team registered; saved versions keep theirs."""
    if base_model not in dict(base_model_choices(team=product.team)):
        raise ValidationError({"base_model": "Pick one of the models listed: the bundled ones or those your team "
                                             "registered on the Models page."})
    if product.fine_tuned_artifact_id is not None and product.base_model != base_model:
        raise ValidationError({"base_model": "The draft serves a fine-tuned model trained on "
                                             f"{product.base_model}; fine-tune again to change its base model."})
    product.base_model = base_model
    product.full_clean()
    product.save()
    return product
