"""How long logs are kept: each team's "keep logs N days", and deleting one widget visitor's data."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from products.models import FeedbackEvent, Generation
from studio.models import Team

logger = logging.getLogger(__name__)

#: Rows deleted per statement, so a first purge of millions of rows never holds one huge transaction.
BATCH = 5000


@dataclass(frozen=True)
class PurgeResult:
    teams: int
    generations: int
    feedback_events: int


def _delete_in_batches(queryset) -> int:
    deleted = 0
    while True:
        with transaction.atomic():
            ids = list(queryset.values_list("pk", flat=True)[:BATCH])
            if not ids:
                return deleted
            # The batch's own feedback events go with it (CASCADE); only the model's own rows are counted.
            _, per_model = queryset.model.objects.filter(pk__in=ids).delete()
            deleted += per_model.get(queryset.model._meta.label, 0)


def logs_purge(*, now: datetime | None = None, team: Team | None = None) -> PurgeResult:
    """Delete generations (with their feedback) and feedback events older than each team's "keep logs N days".

    Teams without a setting keep everything. ``team`` limits the purge to one team. Safe to run at any time and
    from several processes (a row another run deleted first is simply gone).
    """
    now = now or timezone.now()
    teams = Team.objects.filter(log_retention_days__isnull=False)
    if team is not None:
        teams = teams.filter(pk=team.pk)
    generations = events = count = 0
    for keep in teams.only("pk", "log_retention_days"):
        cutoff = now - timedelta(days=keep.log_retention_days)
        generations += _delete_in_batches(Generation.objects.filter(team=keep, created_at__lt=cutoff))
        events += _delete_in_batches(FeedbackEvent.objects.filter(team=keep, created_at__lt=cutoff))
        count += 1
    if generations or events:
        logger.info("Purged %d generations and %d feedback events of %d teams", generations, events, count)
    return PurgeResult(teams=count, generations=generations, feedback_events=events)


@transaction.atomic
def visitor_data_delete(*, team: Team, visitor: str) -> int:
    """Delete everything the team holds about one widget visitor (their random visitor id), and say how much.

    That is the generations they asked for (Generation.visitor: the widget's random id, or the API's ``user``)
    with everything recorded on them, and their feedback events (ratings, clicks, purchases). The daily usage
    counts stay: they hold no id. Other teams' rows are never touched. Returns the number of rows deleted.
    """
    visitor = (visitor or "").strip()
    if not visitor:
        return 0
    events, _ = FeedbackEvent.objects.filter(team=team, visitor=visitor).delete()
    generations, _ = Generation.objects.filter(team=team, visitor=visitor).delete()  # their events go with them
    return events + generations
