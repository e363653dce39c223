"""Reads for a product's Logs tab: filtered, searched and paged generations, one in full, its feedback history.

Every read starts from one product of the caller's team. Pages are keyset pages, newest first by
(created_at, id): the next page holds the rows before the last one shown, so page 2,000 costs what page 1 does;
each filter, with or without a range of days, has an index that reads them in that order
(products/models/generation.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db import connection
from django.db.models import Q, QuerySet, TextField
from django.db.models.functions import Cast
from django.shortcuts import get_object_or_404
from django.utils import timezone

from products.models import FeedbackEvent, Generation, Product

#: Rows a page shows.
PAGE_SIZE = 50

#: Feedback filter values and what they keep.
FEEDBACK_CHOICES = (
    ("", "Any feedback"),
    ("up", "👍 good"),
    ("down", "👎 bad"),
    ("none", "No feedback"),
    ("corrected", "Corrected"),
)
DRAFT = "draft"


@dataclass(frozen=True)
class LogFilters:
    """What the person asked the Logs tab for; every field is optional."""

    version: int | str | None = None  # a version number, or "draft"
    channel: str = ""
    feedback: str = ""
    date_from: date | None = None
    date_to: date | None = None
    q: str = ""


@dataclass(frozen=True)
class LogPage:
    rows: list[Generation]
    next_before: int | None  # the id to ask for the next (older) page with, None on the last page


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())


def generation_text_search(queryset: QuerySet[Generation], q: str) -> QuerySet[Generation]:
    """Generations whose answer or inputs contain ``q``: PostgreSQL full-text (``websearch`` syntax, the GIN
    index of migration 0013_logs), elsewhere (SQLite) a case-insensitive contains."""
    q = q.strip()
    if not q:
        return queryset
    if connection.vendor == "postgresql":
        from django.contrib.postgres.search import SearchQuery, SearchVector

        vector = SearchVector("output", Cast("inputs", TextField()), config="simple")
        return queryset.annotate(search=vector).filter(search=SearchQuery(q, config="simple", search_type="websearch"))
    return queryset.filter(Q(output__icontains=q) | Q(inputs__icontains=q))


def generation_log_filter(*, product: Product, filters: LogFilters) -> QuerySet[Generation]:
    """The product's generations that match ``filters``, newest first."""
    generations = Generation.objects.filter(product=product)
    if filters.version == DRAFT:
        generations = generations.filter(version__isnull=True)
    elif filters.version is not None:
        # The version's id first, so the filter is one equality the (version, -id) index serves, without a join.
        version_id = product.versions.filter(number=filters.version).values_list("pk", flat=True).first()
        generations = generations.filter(version_id=version_id) if version_id else generations.none()
    if filters.channel:
        generations = generations.filter(channel=filters.channel)
    if filters.feedback == "up":
        generations = generations.filter(feedback=1)
    elif filters.feedback == "down":
        generations = generations.filter(feedback=-1)
    elif filters.feedback == "none":
        generations = generations.filter(feedback=0, correction="")
    elif filters.feedback == "corrected":
        generations = generations.exclude(correction="")
    if filters.date_from:
        generations = generations.filter(created_at__gte=_day_start(filters.date_from))
    if filters.date_to and filters.date_to < date.max:  # the last day possible has no day after it: no bound
        generations = generations.filter(created_at__lt=_day_start(filters.date_to + timedelta(days=1)))
    return generation_text_search(generations, filters.q).order_by("-created_at", "-id")


def generation_log_page_query(
    *, product: Product, filters: LogFilters, before: int | None = None, limit: int = PAGE_SIZE
) -> QuerySet[Generation]:
    """The query of one page: ``limit`` + 1 matching rows older than the one with id ``before`` (the extra row
    says whether there is a next page)."""
    generations = generation_log_filter(product=product, filters=filters).select_related("version", "user")
    if before is not None:
        # Rows before the one with id ``before``: older, or as old and of a smaller id. The ``created_at <=``
        # bound is what the index reads from; the exclusion drops the few rows of the same instant.
        anchor = Generation.objects.filter(product=product, pk=before).values_list("created_at", flat=True).first()
        if anchor is None:  # that row is gone (purged): the rows of smaller ids, still in order
            generations = generations.filter(id__lt=before)
        else:
            generations = generations.filter(created_at__lte=anchor).exclude(created_at=anchor, id__gte=before)
    return generations[: limit + 1]


def generation_log_page(
    *, product: Product, filters: LogFilters, before: int | None = None, limit: int = PAGE_SIZE
) -> LogPage:
    """One page of the product's matching generations, older than id ``before`` (the first page without it)."""
    rows = list(generation_log_page_query(product=product, filters=filters, before=before, limit=limit))
    more = len(rows) > limit
    rows = rows[:limit]
    return LogPage(rows=rows, next_before=rows[-1].pk if more else None)


def generation_log_get(*, product: Product, generation_id: int) -> Generation:
    """One of the product's generations, or 404 (another product's, or another team's, does not exist here)."""
    return get_object_or_404(Generation.objects.select_related("version", "user", "product"),
                             product=product, pk=generation_id)


def generation_feedback_history(*, generation: Generation) -> QuerySet[FeedbackEvent]:
    """Every rating, click and correction on ``generation``, oldest first."""
    return generation.feedback_events.select_related("user").order_by("created_at", "pk")


def generation_log_selection(*, product: Product, ids: list[int]) -> QuerySet[Generation]:
    """The product's generations among ``ids`` (ids of other products or teams are ignored), newest first."""
    return Generation.objects.filter(product=product, pk__in=ids).order_by("-created_at", "-id")


def generation_log_good_and_corrected(*, product: Product, filters: LogFilters) -> QuerySet[Generation]:
    """The matching generations rated 👍 or corrected: what "add all good and corrected answers" takes."""
    matching = generation_log_filter(product=product, filters=filters)
    return matching.filter(Q(feedback=1) | ~Q(correction=""))


def generation_correction_labels(*, generation: Generation) -> list[str]:
    """The labels a correction of a classification may pick: the serving classifier's, else those the result scored."""
    from products.kinds import get_kind

    config = generation.version or generation.product
    labels = get_kind(generation.product.kind).correction_labels(config)
    return labels or [str(label) for label in (generation.result or {}).get("probabilities", {})]
