"""Reads for training runs, always within one team."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from inference.models import (
    EvaluationReport,
    KnowledgeIndex,
    ModelArtifact,
    TrainingLogEntry,
    TrainingMetric,
    TrainingRun,
)
from inference.registry import EMBEDDING_MODEL_ID
from products.models import Product
from studio.models import Membership, Team

LOG_LINES = 12
#: How long the dashboard keeps saying that a run ended, for whoever (re)loads it after the live notice went by.
RECENTLY_FINISHED = timedelta(hours=24)


def training_run_list_for_team(*, team: Team) -> QuerySet[TrainingRun]:
    return TrainingRun.objects.filter(team=team).select_related("product", "dataset_version__dataset")


def training_run_list_recently_finished(*, team: Team, limit: int = 5) -> list[TrainingRun]:
    """Runs that ended (succeeded, failed, cancelled) in the last day, latest first: the dashboard's notices."""
    return list(
        TrainingRun.objects.filter(team=team, status__in=TrainingRun.FINISHED,
                                   finished_at__gte=timezone.now() - RECENTLY_FINISHED)
        .select_related("product", "team").order_by("-finished_at", "-pk")[:limit]
    )


def training_run_list_for_product(*, product: Product) -> QuerySet[TrainingRun]:
    return training_run_list_for_team(team=product.team).filter(product=product)


def training_run_get(*, team: Team, run_id: int) -> TrainingRun:
    """The team's run, or 404: other teams' runs do not exist for this caller."""
    return get_object_or_404(
        TrainingRun.objects.select_related("product", "team", "dataset_version__dataset", "created_by"),
        team=team, pk=run_id,
    )


def training_run_for_member(*, user, team_slug: str, run_id: int) -> TrainingRun | None:
    """The run if ``user`` is a member of its team (any role), else None. For websockets."""
    if not user or not user.is_authenticated:
        return None
    membership = Membership.objects.filter(user=user, team__slug=team_slug).first()
    if membership is None:
        return None
    return TrainingRun.objects.select_related("product", "team").filter(team_id=membership.team_id, pk=run_id).first()


def training_run_points(*, run: TrainingRun) -> list[dict[str, Any]]:
    """The loss curve: ``[{"split", "step", "loss"}]`` in step order."""
    return [
        {"split": split, "step": step, "loss": loss}
        for split, step, loss in TrainingMetric.objects.filter(run=run).values_list("split", "step", "loss")
    ]


def training_run_log_tail(*, run: TrainingRun, limit: int = LOG_LINES) -> list[TrainingLogEntry]:
    """The latest log lines, oldest first."""
    return list(reversed(TrainingLogEntry.objects.filter(run=run).order_by("-created_at", "-pk")[:limit]))


def training_run_snapshot(*, run: TrainingRun) -> dict[str, Any]:
    """Everything the run page draws, as the websocket's first frame (after a reload or a lost frame)."""
    from products.training.events import run_state

    run = TrainingRun.objects.select_related("product", "team").get(pk=run.pk)
    logs = [{"level": e.level, "message": e.message, "time": e.created_at.isoformat()}
            for e in training_run_log_tail(run=run)]
    return {"event": "snapshot", **run_state(run), "points": training_run_points(run=run), "logs": logs}


def training_run_evaluation(*, run: TrainingRun) -> EvaluationReport | None:
    return EvaluationReport.objects.filter(run=run).first()


def training_run_artifact(*, run: TrainingRun) -> ModelArtifact | None:
    return ModelArtifact.objects.filter(run=run).first()


def training_tokens_per_second(*, device: str, base_model: str) -> float | None:
    """Training speed of the latest run on this device and model that recorded one; None before any."""
    run = (
        TrainingRun.objects.filter(device=device, base_model=base_model, seconds_per_step__gt=0, step__gt=0,
                                   tokens_seen__gt=0)
        .exclude(resumed_from_step__gt=0)  # tokens of earlier attempts would inflate the rate
        .order_by("-updated_at").values("tokens_seen", "step", "seconds_per_step").first()
    )
    if run is None:
        return None
    return run["tokens_seen"] / (run["step"] * run["seconds_per_step"])


def training_preflight(*, version, overrides: dict[str, Any], base_model: str, method: str = TrainingRun.Method.LORA):
    """(settings the run would use, the pre-flight estimate) for a run of ``method`` on ``version`` now.

    Raises ValidationError when an override is out of range.
    """
    from products.training.estimate import device_hint, preflight_estimate
    from products.training.services import training_defaults

    device = device_hint()
    params = training_defaults(method, train_examples=version.train_count, device=device).with_overrides(overrides)
    tokens = (version.report or {}).get("tokens") or {}
    if method == TrainingRun.Method.CLASSIFIER:
        base_model = EMBEDDING_MODEL_ID
    estimate = preflight_estimate(
        train_examples=version.train_count, validation_examples=version.validation_count,
        mean_text_tokens=tokens.get("mean"), params=params, device=device,
        measured_tokens_per_second=training_tokens_per_second(device=device, base_model=base_model),
        method=method,
    )
    return params, estimate


def knowledge_index_for(*, dataset_version_id: int | None) -> KnowledgeIndex | None:
    """The index built (or building) on a knowledge dataset version, if one was asked for."""
    if dataset_version_id is None:
        return None
    return KnowledgeIndex.objects.filter(dataset_version_id=dataset_version_id).first()


#: Engine status reports (inference/status.py writes them): one key per worker, and the list of workers.
ENGINE_STATUS_WORKERS_KEY = "studio:engine-status:workers"
#: A worker whose last report is older than this is not shown (it stopped or hangs).
STATUS_STALE_AFTER_S = 30.0


def engine_status_key(worker: str) -> str:
    return f"studio:engine-status:{worker}"


def engine_status_list(*, now: float | None = None) -> list[dict[str, Any]]:
    """Each live inference worker's engine: backend, threads, slots in use, queue depth, recent tokens/s."""
    from django.core.cache import cache

    now = time.time() if now is None else now
    names = sorted(cache.get(ENGINE_STATUS_WORKERS_KEY) or {})
    reports = cache.get_many([engine_status_key(name) for name in names])
    fresh = (reports.get(engine_status_key(name)) for name in names)
    return [report for report in fresh if report and now - report["at"] < STATUS_STALE_AFTER_S]
