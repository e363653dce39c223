"""Writes a person makes on training runs: start one, cancel one, ship its model as a product version.

The worker's writes (claim, lease, progress, finish) are inference/training/services.py; both publish
through events.py after commit. No torch here.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from inference.models import ModelArtifact, TrainingLogEntry, TrainingRun, TrainingRunInput
from inference.registry import DEFAULT_MODEL_ID, EMBEDDING_MODEL_ID
from products.base_models.selectors import fine_tunable
from products.datasets.labels import dataset_version_label_summary
from products.kinds import get_kind
from products.models import DatasetVersion, Product, ProductVersion, Verdict
from products.recommendations.data import RecommenderData, recommender_data
from products.services import product_version_create
from products.training.estimate import device_hint
from products.training.events import publish_run_finished, publish_run_status, publish_team_event
from products.training.hyperparameters import (
    MIN_TRAIN_EXAMPLES,
    HyperParameters,
    classifier_defaults_for,
    defaults_for,
    recommender_defaults_for,
    recommender_total_steps,
    too_few_examples_message,
    total_steps,
)

Status = TrainingRun.Status
PROMPT_FIELDS = ("system_prompt", "prompt_template", "input_schema")


def training_log_add(run: TrainingRun, message: str, level: str = TrainingLogEntry.Level.INFO) -> TrainingLogEntry:
    """A line of the run's log (the page's “What happened”); the caller publishes it."""
    return TrainingLogEntry.objects.create(run=run, message=message, level=level)


def _who(user: AbstractBaseUser | None) -> str:
    return getattr(user, "email", "") or "someone"



def training_method_for(product: Product) -> str:
    """The TrainingRun.Method that trains ``product``: its kind's trainer; ValidationError when it has none."""
    kind = get_kind(product.kind)
    if not kind.trainer:
        raise ValidationError(f"{kind.name} products cannot be trained in this studio yet.")
    return kind.trainer


def training_defaults(method: str, *, train_examples: int, device: str) -> HyperParameters:
    """The settings a run of ``method`` starts from for a dataset of this size on this device."""
    chooser = {TrainingRun.Method.CLASSIFIER: classifier_defaults_for,
               TrainingRun.Method.RECOMMENDER: recommender_defaults_for}.get(method, defaults_for)
    return chooser(train_examples=train_examples, device=device)


@transaction.atomic
def training_run_create(
    *, product: Product, dataset_version: DatasetVersion, user: AbstractBaseUser,
    overrides: dict[str, Any] | None = None, base_model: str | None = None, actor: str | None = None,
    publish_on_success: bool = False, catalog_version: DatasetVersion | None = None,
) -> TrainingRun:
    """Queue a fine-tune of ``product`` on ``dataset_version``; defaults come from the dataset size.

    ``actor`` names who asked in the run's log when it is not the person (an API key, say). A recommender
    learns from ``dataset_version`` (its interactions) and ``catalog_version`` (its items) together.
    """
    if dataset_version.dataset.team_id != product.team_id:
        raise ValidationError({"dataset_version": "Choose a dataset version of this team."})
    if dataset_version.kind != product.kind:
        raise ValidationError({"dataset_version": (
            f"{dataset_version} is mapped for another kind of product. Re-map it for this product on its "
            "dataset page (“Change mapping or split”)."
        )})
    if dataset_version.verdict == Verdict.UNUSABLE:
        raise ValidationError(
            {"dataset_version": f"{dataset_version} cannot be used: fix the problems its report lists."}
        )
    kind = get_kind(product.kind)
    if kind.trainer == TrainingRun.Method.RECOMMENDER:
        return _recommender_run_create(product=product, interactions=dataset_version, catalog=catalog_version,
                                       user=user, actor=actor, publish_on_success=publish_on_success)
    if kind.training_shapes and dataset_version.shape not in kind.training_shapes:
        learnable = " or ".join(f"“{kind.shape(shape).label}”" for shape in kind.training_shapes)
        raise ValidationError({"dataset_version": (
            f"{dataset_version} is mapped as “{kind.shape(dataset_version.shape).label}”, which teaches no "
            f"replies: fine-tune on a dataset mapped as {learnable}."
        )})
    if dataset_version.train_count < MIN_TRAIN_EXAMPLES:
        raise ValidationError({"dataset_version": too_few_examples_message(dataset_version.train_count)})
    method = training_method_for(product)
    if method == TrainingRun.Method.CLASSIFIER:
        summary = dataset_version_label_summary(dataset_version)
        if summary is not None and summary.problems:
            raise ValidationError({"dataset_version": summary.problems[0]})
        base_model = EMBEDDING_MODEL_ID  # the encoder the head is trained on; the form offers no other
    else:
        base_model = base_model or product.base_model or DEFAULT_MODEL_ID
        trainable, why = fine_tunable(team=product.team, base_model=base_model)
        if not trainable:
            raise ValidationError({"base_model": why})
    params = training_defaults(method, train_examples=dataset_version.train_count, device=device_hint())
    params = params.with_overrides(overrides or {})
    run = TrainingRun(
        team_id=product.team_id, product=product, dataset_version=dataset_version, base_model=base_model,
        method=method, queue=TrainingRun.SHORT if method == TrainingRun.Method.CLASSIFIER else TrainingRun.LONG,
        hyperparameters=params.to_dict(), created_by=user,
        prompt_config=_prompt_config(product, kind),
        train_examples=dataset_version.train_count, validation_examples=dataset_version.validation_count,
        publish_on_success=publish_on_success, total_steps=total_steps(dataset_version.train_count, params),
    )
    run.full_clean()
    run.save()
    epochs = f"{params.epochs} epoch{'' if params.epochs == 1 else 's'}"
    if method == TrainingRun.Method.CLASSIFIER:
        epochs = f"a classifier on {base_model}, up to {epochs}"
    entry = training_log_add(run, f"Queued by {actor or _who(user)}: {dataset_version}, {epochs}, "
                      f"batch size {params.batch_size}.")
    publish_run_status(run, entry)
    publish_team_event(run.team_id, {"event": "training.queued", "run": run.pk, "product": product.name})
    return run


def _prompt_config(product: Product, kind) -> dict[str, Any]:
    """The product's prompt as the run learns it, and its knowledge base when the kind retrieves passages."""
    config: dict[str, Any] = {name: getattr(product, name) for name in PROMPT_FIELDS}
    knowledge = kind.training_knowledge(product)
    if knowledge is not None:
        config["knowledge"] = knowledge
    return config


def recommender_inputs_check(*, product: Product, interactions: DatasetVersion,
                             catalog: DatasetVersion | None) -> RecommenderData:
    """Both datasets of a recommender run read and checked; ValidationError naming the first problem."""
    if catalog is None:
        raise ValidationError({"catalog_version": "Choose the catalog (the items to recommend) to train on."})
    for field, version, shape in (("dataset_version", interactions, "interactions"),
                                  ("catalog_version", catalog, "catalog")):
        if version.dataset.team_id != product.team_id:
            raise ValidationError({field: "Choose a dataset version of this team."})
        if version.kind != product.kind or version.shape != shape:
            raise ValidationError({field: (
                f"{version} is not mapped as “Recommendations: {shape}”. Map it that way on its dataset page "
                "(“Change mapping or split”).")})
        if version.verdict == Verdict.UNUSABLE:
            raise ValidationError({field: f"{version} cannot be used: fix the problems its report lists."})
    data = recommender_data(catalog=catalog, interactions=interactions)
    if data.problems:
        raise ValidationError({"dataset_version": data.problems[0]})
    return data


def _recommender_run_create(*, product: Product, interactions: DatasetVersion, catalog: DatasetVersion | None,
                            user: AbstractBaseUser, actor: str | None, publish_on_success: bool) -> TrainingRun:
    data = recommender_inputs_check(product=product, interactions=interactions, catalog=catalog)
    params = recommender_defaults_for(train_examples=len(data.interactions), device="cpu")
    run = TrainingRun(
        team_id=product.team_id, product=product, dataset_version=interactions, base_model=EMBEDDING_MODEL_ID,
        method=TrainingRun.Method.RECOMMENDER, queue=TrainingRun.SHORT, hyperparameters=params.to_dict(),
        created_by=user, prompt_config={"input_schema": product.input_schema},
        train_examples=len(data.interactions), validation_examples=0,
        publish_on_success=publish_on_success, total_steps=recommender_total_steps(params),
    )
    run.full_clean()
    run.save()
    TrainingRunInput.objects.create(run=run, role=TrainingRunInput.Role.CATALOG, dataset_version=catalog)
    entry = training_log_add(run, (
        f"Queued by {actor or _who(user)}: a recommender on {interactions} ({len(data.interactions):,} interactions) "
        f"and the catalog {catalog} ({len(data.items):,} items)."))
    publish_run_status(run, entry)
    publish_team_event(run.team_id, {"event": "training.queued", "run": run.pk, "product": product.name})
    return run


@transaction.atomic
def training_run_cancel(*, run: TrainingRun, user: AbstractBaseUser | None, actor: str | None = None) -> TrainingRun:
    """Cancel a queued run at once; ask a running one to stop (its worker stops after the current step)."""
    run = TrainingRun.objects.select_for_update(of=("self",)).select_related("product", "team").get(pk=run.pk)
    who = actor or _who(user)
    if run.status == Status.QUEUED:
        run.status, run.finished_at, run.cancel_requested = Status.CANCELLED, timezone.now(), True
        run.save()
        publish_run_finished(run, training_log_add(run, f"Cancelled by {who} before it started."))
    elif run.status == Status.RUNNING:
        if not run.cancel_requested:
            run.cancel_requested = True
            run.save(update_fields=["cancel_requested", "updated_at"])
            entry = training_log_add(run, f"Cancel requested by {who}; stopping after the current step.")
            publish_run_status(run, entry)
    else:
        ended = run.get_status_display().lower()
        raise ValidationError(f"This run has already ended ({ended}); there is nothing to cancel.")
    return run


@transaction.atomic
def product_version_create_from_run(*, run: TrainingRun, user: AbstractBaseUser) -> ProductVersion:
    """Make the run's fine-tuned model the product's draft model and freeze it as a new version.

    The draft takes the prompt the model was trained with too, so the playground (which uses the draft)
    and the new version both ask the tuned model what it learnt to answer.
    """
    run = TrainingRun.objects.select_related("product", "dataset_version__dataset").get(pk=run.pk)
    artifact = ModelArtifact.objects.filter(run=run).first()
    if run.status != Status.SUCCEEDED or artifact is None:
        raise ValidationError("Only a run that succeeded has a model to make a version from.")
    product = Product.objects.select_for_update().get(pk=run.product_id)
    for name in PROMPT_FIELDS:
        if name in run.prompt_config:
            setattr(product, name, run.prompt_config[name])
    product.base_model = run.base_model
    product.fine_tuned_artifact = artifact
    # A recommender's newer catalog ("Use the new catalog") was for the old model: the new one learnt its own.
    product.kind_config = {k: v for k, v in (product.kind_config or {}).items() if k != "catalog_version"}
    product.full_clean()
    product.save()
    return product_version_create(
        product=product, user=user, note=f"Fine-tuned on {run.dataset_version} (training run {run.pk})."
    )
