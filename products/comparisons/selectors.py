"""Reads for blind comparisons, always within one team and one product."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Q, QuerySet
from django.shortcuts import get_object_or_404

from products.comparisons.stats import Tally, tally
from products.models import Comparison, ComparisonPair, ComparisonVote, Product


def comparison_list(*, product: Product) -> QuerySet[Comparison]:
    return product.comparisons.select_related("version_a", "version_b", "created_by").order_by("-created_at", "-pk")


def comparison_get(*, product: Product, comparison_id: int) -> Comparison:
    """The product's comparison, or 404 (``product`` comes from the caller's own team)."""
    return get_object_or_404(
        Comparison.objects.select_related("team", "product", "version_a", "version_b", "dataset_version__dataset"),
        product=product, team_id=product.team_id, pk=comparison_id,
    )


def comparison_pairs_ready(*, comparison: Comparison) -> QuerySet[ComparisonPair]:
    """The pairs people can vote on: both outputs written."""
    return comparison.pairs.filter(output_a__isnull=False, output_b__isnull=False)


def comparison_pair_next(*, comparison: Comparison, user: AbstractBaseUser) -> ComparisonPair | None:
    """The next pair ``user`` has not voted on yet, in order; None when they have voted on every ready one."""
    return comparison_pairs_ready(comparison=comparison).exclude(votes__user=user).order_by("position").first()


def comparison_pair_get(*, comparison: Comparison, pair_id: int) -> ComparisonPair:
    return get_object_or_404(comparison_pairs_ready(comparison=comparison), pk=pair_id)


def comparison_user_progress(*, comparison: Comparison, user: AbstractBaseUser) -> tuple[int, int]:
    """(pairs ``user`` voted on, pairs ready to vote on)."""
    ready = comparison_pairs_ready(comparison=comparison)
    return ready.filter(votes__user=user).count(), ready.count()


def comparison_tally(*, comparison: Comparison) -> Tally:
    """Everyone's votes on the comparison, counted in one query."""
    Choice = ComparisonVote.Choice
    counts = ComparisonVote.objects.filter(pair__comparison=comparison).aggregate(
        a=Count("pk", filter=Q(choice=Choice.A)), b=Count("pk", filter=Q(choice=Choice.B)),
        tie=Count("pk", filter=Q(choice=Choice.TIE)),
    )
    return tally(wins_a=counts["a"], wins_b=counts["b"], ties=counts["tie"])


def comparison_pairs_failed(*, comparison: Comparison) -> QuerySet[ComparisonPair]:
    return comparison.pairs.exclude(error="")
