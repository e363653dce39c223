"""Registering a model of the operator's folder for a team, and choosing a draft's base model."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from inference.model_folder import LOCAL_PREFIX, ModelFolderError, inspect, is_local
from inference.registry import BASE_MODELS
from products.base_models.selectors import base_model_choices, registered_model_users
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
def registered_model_delete(*, model: RegisteredModel) -> None:
    """Unregister ``model`` for its team, refused while a draft, a live version or an A/B candidate writes with it.

    Older saved versions on it stay as history; generation_start refuses them in words until it is registered
    again (a pinned API call, a rollback), so unregistering never leaves a version answering from a model the
    team no longer has. The files stay: they are the operator's.
    """
    # Lock the row (product_base_model_update takes the same lock): a draft picking the model meanwhile either
    # commits first and is named below, or waits and then finds it gone.
    RegisteredModel.objects.select_for_update().filter(pk=model.pk).first()
    uses = registered_model_users(model=model)
    if uses:
        raise ValidationError(f"“{model.name}” is still in use by {', '.join(uses)}. Pick another base model on "
                              "their Engine tab (and publish it) first, then unregister it.")
    model.delete()


@transaction.atomic
def product_base_model_update(*, product: Product, base_model: str) -> Product:
    """Point the draft at a bundled model or one its team registered; saved versions keep theirs."""
    if is_local(base_model):  # the lock registered_model_delete takes: a pick and an unregister never interleave
        name = base_model.removeprefix(LOCAL_PREFIX)
        RegisteredModel.objects.select_for_update().filter(team=product.team, name=name).first()
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
