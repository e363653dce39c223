"""Writes for training runs: start, cancel, the worker's claim/lease/progress/finish, and shipping the result.

Every write that a page shows is published to the run's channel-layer group after it commits
(``events.publish_run_frame``). No torch here: the web tier and the worker both call these.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from inference.bundled import BASE_MODELS, DEFAULT_MODEL_ID
from inference.models import EvaluationReport, ModelArtifact, TrainingLogEntry, TrainingMetric, TrainingRun
from inference.training.estimate import device_hint
from inference.training.events import publish_run_frame, publish_team_event
from inference.training.hyperparameters import (
    MIN_TRAIN_EXAMPLES,
    defaults_for,
    too_few_examples_message,
    total_steps,
)
from products.models import DatasetVersion, Product, ProductVersion, Verdict
from products.services import product_version_create

Status = TrainingRun.Status
PROMPT_FIELDS = ("system_prompt", "prompt_template", "input_schema")


def run_state(run: TrainingRun) -> dict[str, Any]:
    """What every frame about a run carries: enough for a page to redraw its status line."""
    return {
        "run": run.pk,
        "status": run.status,
        "status_label": run.get_status_display(),
        "step": run.step,
        "total_steps": run.total_steps,
        "percent": run.percent,
        "train_loss": run.train_loss,
        "validation_loss": run.validation_loss,
        "eta_seconds": run.eta_seconds,
        "checkpoint_step": run.checkpoint_step,
        "device": run.device,
        "attempts": run.attempts,
        "cancel_requested": run.cancel_requested,
        "error": run.error,
    }


def _who(user: AbstractBaseUser | None) -> str:
    return getattr(user, "email", "") or "someone"


def _log(run: TrainingRun, message: str, level: str = TrainingLogEntry.Level.INFO) -> TrainingLogEntry:
    return TrainingLogEntry.objects.create(run=run, message=message, level=level)


def _log_frame(entry: TrainingLogEntry) -> dict[str, Any]:
    return {"level": entry.level, "message": entry.message, "time": entry.created_at.isoformat()}


def _publish_status(run: TrainingRun, *entries: TrainingLogEntry) -> None:
    publish_run_frame(run.pk, {"event": "status", **run_state(run), "logs": [_log_frame(e) for e in entries]})


def _publish_finished(run: TrainingRun, *entries: TrainingLogEntry) -> None:
    publish_run_frame(run.pk, {"event": "finished", **run_state(run), "logs": [_log_frame(e) for e in entries]})
    publish_team_event(run.team_id, {
        "event": "training.finished", "run": run.pk, "status": run.status, "status_label": run.get_status_display(),
        "product": run.product.name, "url": run.get_absolute_url(),
    })


# Starting and cancelling (people) ----------------------------------------------------------------


@transaction.atomic
def training_run_create(
    *, product: Product, dataset_version: DatasetVersion, user: AbstractBaseUser,
    overrides: dict[str, Any] | None = None, base_model: str | None = None, actor: str | None = None,
) -> TrainingRun:
    """Queue a fine-tune of ``product`` on ``dataset_version``; defaults come from the dataset size.

    ``actor`` names who asked in the run's log when it is not the person (an API key, say).
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
    if dataset_version.train_count < MIN_TRAIN_EXAMPLES:
        raise ValidationError({"dataset_version": too_few_examples_message(dataset_version.train_count)})
    base_model = base_model or product.base_model or DEFAULT_MODEL_ID
    if BASE_MODELS.get(base_model) is None or BASE_MODELS[base_model].task != "causal-lm":
        raise ValidationError({"base_model": f"{base_model} is not a text model that can be fine-tuned."})
    params = defaults_for(train_examples=dataset_version.train_count, device=device_hint())
    params = params.with_overrides(overrides or {})
    run = TrainingRun(
        team_id=product.team_id, product=product, dataset_version=dataset_version, base_model=base_model,
        hyperparameters=params.to_dict(), created_by=user,
        prompt_config={name: getattr(product, name) for name in PROMPT_FIELDS},
        train_examples=dataset_version.train_count, validation_examples=dataset_version.validation_count,
        total_steps=total_steps(dataset_version.train_count, params),
    )
    run.full_clean()
    run.save()
    epochs = f"{params.epochs} epoch{'' if params.epochs == 1 else 's'}"
    entry = _log(run, f"Queued by {actor or _who(user)}: {dataset_version}, {epochs}, "
                      f"batch size {params.batch_size}.")
    _publish_status(run, entry)
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
        _publish_finished(run, _log(run, f"Cancelled by {who} before it started."))
    elif run.status == Status.RUNNING:
        if not run.cancel_requested:
            run.cancel_requested = True
            run.save(update_fields=["cancel_requested", "updated_at"])
            _publish_status(run, _log(run, f"Cancel requested by {who}; stopping after the current step."))
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
    product.full_clean()
    product.save()
    return product_version_create(
        product=product, user=user, note=f"Fine-tuned on {run.dataset_version} (training run {run.pk})."
    )


# The worker's side: claim, lease, progress, finish -------------------------------------------------


def worker_lost_message(attempts: int) -> str:
    """Why a run failed after its worker was lost on every one of its ``attempts``, and what to do."""
    retries = attempts - 1
    retried = (
        f"the run was retried {retries} time{'' if retries == 1 else 's'}, then given up" if retries
        else "the run was given up (this studio does not retry runs)"
    )
    return (
        f"The training worker was lost (its machine stopped, restarted or ran out of memory) and {retried}. "
        "Start it again; if it keeps stopping, try a smaller batch size under “Advanced settings”."
    )


def _lease_until(lease_seconds: int | None = None):
    return timezone.now() + timedelta(seconds=lease_seconds or settings.TRAINING_LEASE_SECONDS)


def _held(run_id: int, worker: str):
    """The run, locked, if ``worker`` still holds it; None when its lease went to someone else."""
    return (
        TrainingRun.objects.select_for_update(of=("self",)).select_related("product", "team")
        .filter(pk=run_id, status=Status.RUNNING, worker=worker).first()
    )


@transaction.atomic
def training_run_claim(*, worker: str, lease_seconds: int | None = None) -> TrainingRun | None:
    """Take the oldest queued run for ``worker`` and lease it, or None when the queue is empty."""
    # skip_locked: two workers polling at the same moment would otherwise both read the same oldest
    # row and both start it; the second one skips the row the first has locked and takes the next.
    run = (
        TrainingRun.objects.select_for_update(skip_locked=True)
        .filter(status=Status.QUEUED).order_by("created_at", "pk").first()
    )
    if run is None:
        return None
    now = timezone.now()
    run.status, run.worker, run.attempts = Status.RUNNING, worker, run.attempts + 1
    run.lease_expires_at, run.heartbeat_at = _lease_until(lease_seconds), now
    run.started_at = run.started_at or now
    run.save()
    run = TrainingRun.objects.select_related("product", "team", "dataset_version__dataset").get(pk=run.pk)
    attempt = f" (attempt {run.attempts} of {settings.TRAINING_MAX_ATTEMPTS})" if run.attempts > 1 else ""
    _publish_status(run, _log(run, f"Started{attempt}."))
    return run


def training_run_heartbeat(*, run_id: int, worker: str, lease_seconds: int | None = None) -> bool:
    """Renew the lease; False when the run is no longer this worker's (it should stop at once)."""
    now = timezone.now()
    return bool(
        TrainingRun.objects.filter(pk=run_id, status=Status.RUNNING, worker=worker)
        .update(lease_expires_at=_lease_until(lease_seconds), heartbeat_at=now)
    )


@transaction.atomic
def training_runs_requeue_expired(*, max_attempts: int | None = None) -> list[TrainingRun]:
    """Put runs whose worker stopped renewing its lease back in the queue, or fail them after too many tries."""
    max_attempts = max_attempts or settings.TRAINING_MAX_ATTEMPTS
    expired = list(
        TrainingRun.objects.select_for_update(skip_locked=True, of=("self",)).select_related("product", "team")
        .filter(status=Status.RUNNING, lease_expires_at__lt=timezone.now())
    )
    for run in expired:
        run.worker, run.lease_expires_at = "", None
        if run.cancel_requested:
            run.status, run.finished_at = Status.CANCELLED, timezone.now()
            run.save()
            _publish_finished(run, _log(run, "Cancelled (its worker had stopped)."))
        elif run.attempts >= max_attempts:
            run.status, run.finished_at = Status.FAILED, timezone.now()
            run.error = worker_lost_message(run.attempts)
            run.save()
            _publish_finished(run, _log(run, run.error, TrainingLogEntry.Level.ERROR))
        else:
            run.status = Status.QUEUED
            run.save()
            resume = f"step {run.checkpoint_step}" if run.checkpoint_step else "the start"
            entry = _log(run, f"The worker stopped responding; the run is queued again and will resume from {resume}.",
                         TrainingLogEntry.Level.WARNING)
            _publish_status(run, entry)
    return expired


@transaction.atomic
def training_run_prepared(
    *, run_id: int, worker: str, train_examples: int, validation_examples: int, total_steps: int,
    device: str, resumed_from_step: int | None, message: str,
) -> bool:
    """Record what the worker found in the data and where it starts; False when the lease is lost."""
    run = _held(run_id, worker)
    if run is None:
        return False
    run.train_examples, run.validation_examples, run.total_steps = train_examples, validation_examples, total_steps
    run.device = device
    if resumed_from_step is not None:
        run.resumed_from_step = resumed_from_step
        run.step = resumed_from_step
        # Points past the checkpoint are about to be trained again; keep the curve free of the lost ones.
        TrainingMetric.objects.filter(run=run, step__gt=resumed_from_step).delete()
    run.save()
    _publish_status(run, _log(run, message))
    return True


@transaction.atomic
def training_run_progress_record(
    *, run_id: int, worker: str, step: int, train_loss: float | None, tokens_seen: int,
    seconds_per_step: float | None, points: list[tuple[str, int, float]], message: str = "",
) -> TrainingRun | None:
    """Save progress and new loss points, then publish them; returns the run (None when the lease is lost).

    The caller reads ``cancel_requested`` on the returned row: cancel is checked on every write.
    """
    run = _held(run_id, worker)
    if run is None:
        return None
    run.step, run.tokens_seen, run.seconds_per_step = step, tokens_seen, seconds_per_step
    if train_loss is not None:
        run.train_loss = train_loss
    for split, point_step, loss in points:
        TrainingMetric.objects.update_or_create(run=run, split=split, step=point_step, defaults={"loss": loss})
        if split == TrainingMetric.Split.VALIDATION:
            run.validation_loss = loss
    run.save()
    entries = [_log(run, message)] if message else []
    publish_run_frame(run.pk, {
        "event": "progress", **run_state(run),
        "points": [{"split": split, "step": s, "loss": loss} for split, s, loss in points],
        "logs": [_log_frame(e) for e in entries],
    })
    return run


def training_run_should_stop(*, run_id: int, worker: str) -> tuple[bool, bool]:
    """(cancel requested, lease lost): the cheap check a worker makes between two saves."""
    row = TrainingRun.objects.filter(pk=run_id).values("cancel_requested", "worker", "status").first()
    if row is None:
        return False, True
    return row["cancel_requested"], row["worker"] != worker or row["status"] != Status.RUNNING


@transaction.atomic
def training_run_checkpoint_record(*, run_id: int, worker: str, step: int) -> bool:
    run = _held(run_id, worker)
    if run is None:
        return False
    run.checkpoint_step = step
    run.save(update_fields=["checkpoint_step", "updated_at"])
    _publish_status(run, _log(run, f"Saved a checkpoint at step {step}."))
    return True


def training_run_log(*, run_id: int, worker: str, message: str) -> None:
    """A line for the run page (evaluation started, …) while the worker holds the run."""
    with transaction.atomic():
        run = _held(run_id, worker)
        if run is not None:
            _publish_status(run, _log(run, message))


@transaction.atomic
def training_run_succeed(
    *, run_id: int, worker: str, artifact: dict[str, Any], evaluation: dict[str, Any] | None,
) -> TrainingRun | None:
    """Register the artifact and the evaluation report, and mark the run succeeded (None: lease lost)."""
    run = _held(run_id, worker)
    if run is None:
        return None
    ModelArtifact.objects.create(team_id=run.team_id, run=run, base_model=run.base_model, **artifact)
    if evaluation is not None:
        EvaluationReport.objects.create(run=run, **evaluation)
    run.status, run.finished_at = Status.SUCCEEDED, timezone.now()
    run.worker, run.lease_expires_at, run.step = "", None, run.total_steps
    run.save()
    _publish_finished(run, _log(run, "Finished. The evaluation report is ready."))
    return run


@transaction.atomic
def training_run_fail(*, run_id: int, worker: str, error: str) -> TrainingRun | None:
    run = _held(run_id, worker)
    if run is None:
        return None
    run.status, run.finished_at, run.error = Status.FAILED, timezone.now(), error
    run.worker, run.lease_expires_at = "", None
    run.save()
    _publish_finished(run, _log(run, error, TrainingLogEntry.Level.ERROR))
    return run


@transaction.atomic
def training_run_cancelled(*, run_id: int, worker: str) -> TrainingRun | None:
    run = _held(run_id, worker)
    if run is None:
        return None
    run.status, run.finished_at = Status.CANCELLED, timezone.now()
    run.worker, run.lease_expires_at = "", None
    run.save()
    _publish_finished(run, _log(run, f"Stopped at step {run.step} of {run.total_steps}, as asked."))
    return run


@transaction.atomic
def training_run_release(*, run_id: int, worker: str) -> TrainingRun | None:
    """Give a run back to the queue because this worker is shutting down; it does not count as an attempt."""
    run = _held(run_id, worker)
    if run is None:
        return None
    run.status, run.worker, run.lease_expires_at = Status.QUEUED, "", None
    run.attempts = max(run.attempts - 1, 0)
    run.save()
    _publish_status(run, _log(run, f"The worker is shutting down; the run is queued again and will resume "
                                   f"from step {run.checkpoint_step}."))
    return run
