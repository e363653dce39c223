"""The training worker's writes: claim, lease, progress, checkpoints and how a run ends.

Claim, heartbeat, sweep and release are inference/jobs.py's, shared by every leased job; these add the run's
log line and live frame.

Every write that a page shows is published to the run's channel-layer group after it commits
(products/training/events.py). The writes a person makes (start, cancel, ship) are
products/training/services.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from inference.jobs import Swept, job_claim, job_heartbeat, job_held, job_release, jobs_requeue_expired
from inference.models import EvaluationReport, ModelArtifact, TrainingLogEntry, TrainingMetric, TrainingRun
from products.training.events import log_frame, publish_run_finished, publish_run_frame, publish_run_status, run_state
from products.training.services import training_log_add

Status = TrainingRun.Status


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


#: Every queue a training run may be on: LoRA fine-tunes are long; the small heads the next kinds train are short.
TRAINING_QUEUES = (TrainingRun.LONG, TrainingRun.SHORT)
_RELATED = ("product", "team")


def _lease_seconds(lease_seconds: float | None) -> float:
    return lease_seconds or settings.TRAINING_LEASE_SECONDS


def _held(run_id: int, worker: str) -> TrainingRun | None:
    """The run, locked, if ``worker`` still holds it; None when its lease went to someone else."""
    return job_held(TrainingRun, job_id=run_id, worker=worker, select_related=_RELATED)


@transaction.atomic
def training_run_claim(
    *, worker: str, lease_seconds: float | None = None, queues: Sequence[str] = TRAINING_QUEUES,
) -> TrainingRun | None:
    """Lease the next queued run of ``queues`` to ``worker`` (see inference.jobs.job_claim), or None."""
    run = job_claim(TrainingRun, worker=worker, queues=queues, lease_seconds=_lease_seconds(lease_seconds))
    if run is None:
        return None
    run = TrainingRun.objects.select_related("product", "team", "dataset_version__dataset").get(pk=run.pk)
    attempt = f" (attempt {run.attempts} of {settings.TRAINING_MAX_ATTEMPTS})" if run.attempts > 1 else ""
    publish_run_status(run, training_log_add(run, f"Started{attempt}."))
    return run


def training_run_heartbeat(*, run_id: int, worker: str, lease_seconds: float | None = None) -> bool:
    """Renew the lease; False when the run is no longer this worker's (it should stop at once)."""
    return job_heartbeat(TrainingRun, job_id=run_id, worker=worker, lease_seconds=_lease_seconds(lease_seconds))


def _swept(run: TrainingRun, what: Swept) -> None:
    if what == Swept.CANCELLED:
        publish_run_finished(run, training_log_add(run, "Cancelled (its worker had stopped)."))
    elif what == Swept.FAILED:
        publish_run_finished(run, training_log_add(run, run.error, TrainingLogEntry.Level.ERROR))
    else:
        resume = f"step {run.checkpoint_step}" if run.checkpoint_step else "the start"
        entry = training_log_add(
            run, f"The worker stopped responding; the run is queued again and will resume from {resume}.",
            TrainingLogEntry.Level.WARNING,
        )
        publish_run_status(run, entry)


def training_runs_requeue_expired(*, max_attempts: int | None = None) -> list[TrainingRun]:
    """Put runs whose worker stopped renewing its lease back in the queue, or fail them after too many tries."""
    return jobs_requeue_expired(
        TrainingRun, max_attempts=max_attempts or settings.TRAINING_MAX_ATTEMPTS,
        failure_message=lambda run: worker_lost_message(run.attempts), on_swept=_swept, select_related=_RELATED,
    )


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
    publish_run_status(run, training_log_add(run, message))
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
    entries = [training_log_add(run, message)] if message else []
    publish_run_frame(run.pk, {
        "event": "progress", **run_state(run),
        "points": [{"split": split, "step": s, "loss": loss} for split, s, loss in points],
        "logs": [log_frame(e) for e in entries],
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
    publish_run_status(run, training_log_add(run, f"Saved a checkpoint at step {step}."))
    return True


def training_run_log(*, run_id: int, worker: str, message: str) -> None:
    """A line for the run page (evaluation started, …) while the worker holds the run."""
    with transaction.atomic():
        run = _held(run_id, worker)
        if run is not None:
            publish_run_status(run, training_log_add(run, message))


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
    entry = training_log_add(run, "Finished. The evaluation report is ready.")
    if run.publish_on_success:
        entry = _publish_trained_model(run)
    publish_run_finished(run, entry)
    return run


def _publish_trained_model(run: TrainingRun) -> TrainingLogEntry:
    """The run's model as a new published version of its product (runs queued with publish_on_success)."""
    from products.releases.selectors import release_running
    from products.services import product_version_publish
    from products.training.services import product_version_create_from_run

    version = product_version_create_from_run(run=run, user=run.created_by)
    if release_running(product=version.product) is not None:  # a person decides what a publish does to a split
        return training_log_add(run, f"Finished, and saved as version {version.number}. Not published: an A/B "
                                     "split is running; publish it from the Versions tab.")
    product_version_publish(product=version.product, version=version)
    return training_log_add(run, f"Finished, and published as version {version.number}: the product answers now.")


@transaction.atomic
def training_run_fail(*, run_id: int, worker: str, error: str) -> TrainingRun | None:
    run = _held(run_id, worker)
    if run is None:
        return None
    run.status, run.finished_at, run.error = Status.FAILED, timezone.now(), error
    run.worker, run.lease_expires_at = "", None
    run.save()
    publish_run_finished(run, training_log_add(run, error, TrainingLogEntry.Level.ERROR))
    return run


@transaction.atomic
def training_run_cancelled(*, run_id: int, worker: str) -> TrainingRun | None:
    run = _held(run_id, worker)
    if run is None:
        return None
    run.status, run.finished_at = Status.CANCELLED, timezone.now()
    run.worker, run.lease_expires_at = "", None
    run.save()
    publish_run_finished(run, training_log_add(run, f"Stopped at step {run.step} of {run.total_steps}, as asked."))
    return run


@transaction.atomic
def training_run_release(*, run_id: int, worker: str) -> TrainingRun | None:
    """Give a run back to the queue because this worker is shutting down; it does not count as an attempt."""
    run = job_release(TrainingRun, job_id=run_id, worker=worker, select_related=_RELATED)
    if run is None:
        return None
    entry = training_log_add(
        run, f"The worker is shutting down; the run is queued again and will resume from step {run.checkpoint_step}."
    )
    publish_run_status(run, entry)
    return run
