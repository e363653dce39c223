"""Reads for training runs, always within one team."""

from __future__ import annotations

from django.db.models import QuerySet

from inference.models import TrainingRun
from studio.models import Team


def training_run_list_for_team(*, team: Team) -> QuerySet[TrainingRun]:
    return TrainingRun.objects.filter(team=team).select_related("product")
