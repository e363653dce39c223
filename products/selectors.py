"""Reads for products and datasets, always within one team."""

from __future__ import annotations

from django.db.models import QuerySet

from products.models import Dataset, Product
from studio.models import Team


def product_list_for_team(*, team: Team) -> QuerySet[Product]:
    return Product.objects.filter(team=team)


def dataset_list_for_team(*, team: Team) -> QuerySet[Dataset]:
    """For the dashboard; the datasets' own reads live in products.datasets.selectors."""
    from products.datasets.selectors import dataset_list_for_team as datasets_of_team

    return datasets_of_team(team=team)


def product_get(*, team: Team, slug: str) -> Product:
    """The team's product, or 404: products of other teams do not exist for this caller."""
    from django.shortcuts import get_object_or_404

    return get_object_or_404(Product.objects.select_related("live_version"), team=team, slug=slug)


def product_version_list(*, product: Product) -> QuerySet:
    return product.versions.select_related("created_by").order_by("-number")


def product_version_get(*, product: Product, number: int):
    from django.shortcuts import get_object_or_404

    return get_object_or_404(product.versions, number=number)


def generation_list(*, product: Product, limit: int = 20) -> QuerySet:
    """The playground's recent results: what people asked for, not a blind comparison's generations."""
    from products.models import Generation

    return (product.generations.exclude(channel=Generation.Channel.COMPARISON)
            .select_related("version", "user")[:limit])


def generation_get(*, team: Team, generation_id: int):
    from django.shortcuts import get_object_or_404

    from products.models import Generation

    return get_object_or_404(Generation, team=team, pk=generation_id)
