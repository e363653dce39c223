"""Reads for releases and usage: from UsageRollup rows only, so a page costs O(days), not O(generations)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, timedelta

from django.db.models import QuerySet, Sum
from django.shortcuts import get_object_or_404
from django.utils import timezone

from products.models import Product, Release, UsageRollup
from products.releases.assignment import CANDIDATE, CONTROL
from products.releases.histogram import histogram_percentile, histogram_sum
from products.releases.stats import SRM_P_VALUE, Interval, rate_difference_interval, sample_ratio_p_value
from studio.models import Team

COUNTS = ("generations", "errors", "thumbs_up", "thumbs_down", "corrected", "clicked", "purchased",
          "tokens_in", "tokens_out")


def release_running(*, product: Product) -> Release | None:
    return Release.objects.select_related("candidate", "control").filter(
        product=product, stopped_at__isnull=True).first()


def release_list(*, product: Product) -> QuerySet[Release]:
    return Release.objects.filter(product=product).select_related("candidate", "control", "started_by")


def release_get(*, product: Product, release_id: int) -> Release:
    """The product's release, or 404 (``product`` comes from product_get, so another team's is 404 too)."""
    return get_object_or_404(Release.objects.select_related("candidate", "control"), product=product, pk=release_id)


@dataclass
class Totals:
    """Summed rollups, with the rates and percentiles a page shows."""

    generations: int = 0
    errors: int = 0
    thumbs_up: int = 0
    thumbs_down: int = 0
    corrected: int = 0
    clicked: int = 0
    purchased: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    histogram: list[int] = field(default_factory=list)
    versions: list[int] = field(default_factory=list)

    def _rate(self, hits: int) -> float | None:
        return hits / self.generations if self.generations else None

    @property
    def thumbs_up_rate(self) -> float | None:
        """Share of generations rated 👍 (unrated ones count as not 👍, so arms compare on the same base)."""
        return self._rate(self.thumbs_up)

    @property
    def correction_rate(self) -> float | None:
        return self._rate(self.corrected)

    @property
    def click_rate(self) -> float | None:
        return self._rate(self.clicked)

    @property
    def purchase_rate(self) -> float | None:
        return self._rate(self.purchased)

    @property
    def error_rate(self) -> float | None:
        return self._rate(self.errors)

    @property
    def tokens(self) -> int:
        return self.tokens_in + self.tokens_out

    @property
    def ttft_p50_ms(self) -> float | None:
        return histogram_percentile(self.histogram, 50)

    @property
    def ttft_p95_ms(self) -> float | None:
        return histogram_percentile(self.histogram, 95)


def _totals(rows) -> Totals:
    rows = list(rows)
    totals = Totals(histogram=histogram_sum(row.ttft_histogram for row in rows),
                    versions=sorted({row.version_number for row in rows}))
    for name in COUNTS:
        setattr(totals, name, sum(getattr(row, name) for row in rows))
    return totals


@dataclass(frozen=True)
class Comparison:
    """One rate of the candidate against the main arm: the difference and its 95 % interval."""

    name: str
    control: float | None
    candidate: float | None
    interval: Interval | None

    @property
    def difference(self) -> float | None:
        return None if self.control is None or self.candidate is None else self.candidate - self.control


@dataclass(frozen=True)
class ReleaseReport:
    release: Release
    control: Totals
    candidate: Totals
    comparisons: list[Comparison]
    srm_p_value: float | None

    @property
    def srm_warning(self) -> bool:
        return self.srm_p_value is not None and self.srm_p_value < SRM_P_VALUE

    @property
    def candidate_share_seen(self) -> float | None:
        total = self.control.generations + self.candidate.generations
        return 100 * self.candidate.generations / total if total else None


#: The rates compared per arm: 👍, corrections and errors for every kind, clicks and purchases where they happen.
RATES = (("Rated good (👍)", "thumbs_up"), ("Correction rate", "corrected"), ("Click rate", "clicked"),
         ("Purchase rate", "purchased"), ("Error rate", "errors"))


def release_report(*, release: Release) -> ReleaseReport:
    """Per-arm totals of a split, the differences in rates with their intervals, and the sample-ratio test."""
    rows = list(UsageRollup.objects.filter(product_id=release.product_id, release_pk=release.pk))
    control = _totals(row for row in rows if row.arm == CONTROL)
    candidate = _totals(row for row in rows if row.arm == CANDIDATE)
    comparisons = []
    for name, column in RATES:
        hits_a, hits_b = getattr(control, column), getattr(candidate, column)
        if column in ("clicked", "purchased") and not (hits_a or hits_b):
            continue  # kinds without clicks (everything but recommendations) do not show an empty row
        comparisons.append(Comparison(
            name=name, control=control._rate(hits_a), candidate=candidate._rate(hits_b),
            interval=rate_difference_interval(hits_a=hits_a, total_a=control.generations,
                                              hits_b=hits_b, total_b=candidate.generations),
        ))
    srm = sample_ratio_p_value(control=control.generations, candidate=candidate.generations,
                               share_percent=release.share_percent)
    return ReleaseReport(release=release, control=control, candidate=candidate, comparisons=comparisons,
                         srm_p_value=srm)


@dataclass(frozen=True)
class DayUsage:
    day: date
    totals: Totals


def usage_by_day(*, team: Team, product: Product | None = None, version_number: int | None = None,
                 days: int = 30) -> list[DayUsage]:
    """One entry per day of the last ``days`` (UTC, today included), zeros where nothing ran."""
    today = timezone.now().astimezone(UTC).date()
    first = today - timedelta(days=days - 1)
    rows = UsageRollup.objects.filter(team=team, day__gte=first)
    if product is not None:
        rows = rows.filter(product=product)
    if version_number is not None:
        rows = rows.filter(version_number=version_number)
    by_day: dict[date, list[UsageRollup]] = {}
    for row in rows.only("day", "version_number", "ttft_histogram", *COUNTS):
        by_day.setdefault(row.day, []).append(row)
    return [DayUsage(day=first + timedelta(n), totals=_totals(by_day.get(first + timedelta(n), [])))
            for n in range(days)]


def usage_totals(days: list[DayUsage]) -> Totals:
    """The days of ``usage_by_day`` added up (counts only): a period's generations, clicks and purchases."""
    total = Totals()
    for day in days:
        for name in COUNTS:
            setattr(total, name, getattr(total, name) + getattr(day.totals, name))
    return total


def usage_by_product(*, team: Team, days: int = 30) -> list[dict]:
    """Generations and tokens per product of the team over the last ``days``, busiest first."""
    first = timezone.now().astimezone(UTC).date() - timedelta(days=days - 1)
    return list(
        UsageRollup.objects.filter(team=team, day__gte=first).values("product__name", "product__slug")
        .annotate(generations=Sum("generations"), tokens_in=Sum("tokens_in"), tokens_out=Sum("tokens_out"),
                  errors=Sum("errors"))
        .order_by("-generations")
    )
