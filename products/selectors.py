"""Reads for products and datasets, always within one team."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet
from django.urls import reverse

from products.models import Dataset, DatasetVersion, Generation, Product
from studio.models import Team


def product_list_for_team(*, team: Team) -> QuerySet[Product]:
    return Product.objects.filter(team=team)


def product_name_taken(*, team: Team, name: str, exclude: Product | None = None) -> bool:
    """Whether another product of the team already has this name (ignoring case): people would mix them up."""
    others = Product.objects.filter(team=team, name__iexact=name.strip())
    return (others.exclude(pk=exclude.pk) if exclude is not None else others).exists()


@dataclass(frozen=True)
class ProductDeleteSummary:
    """What deleting a product takes with it, counted, for the confirmation page."""

    versions: int
    generations: int
    releases: int
    comparisons: int
    training_runs: int
    #: Datasets its versions or training runs read, which stay (they belong to the team).
    datasets_kept: int


def product_delete_summary(*, product: Product) -> ProductDeleteSummary:
    from inference.models import TrainingRun

    runs = TrainingRun.objects.filter(product=product)
    used = set(runs.exclude(dataset_version=None).values_list("dataset_version__dataset_id", flat=True))
    used |= set(product.versions.exclude(knowledge_version=None).values_list("knowledge_version__dataset_id",
                                                                               flat=True))
    if product.knowledge_version_id:
        used.add(product.knowledge_version.dataset_id)
    return ProductDeleteSummary(
        versions=product.versions.count(),
        generations=product.generations.exclude(channel=Generation.Channel.COMPARISON).count(),
        releases=product.releases.count(), comparisons=product.comparisons.count(),
        training_runs=runs.count(), datasets_kept=len(used),
    )


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


def generation_get_for_product(*, product: Product, generation_id: int):
    """One of the product's generations, or 404 (``product`` comes from product_get, so it is the team's)."""
    from django.shortcuts import get_object_or_404

    return get_object_or_404(Generation, product=product, pk=generation_id)


@dataclass(frozen=True)
class GettingStartedStep:
    title: str
    hint: str
    url: str
    done: bool


def getting_started_for_team(*, team: Team) -> list[GettingStartedStep]:
    """The first five things a new team does, each ticked from what the team's data shows it did."""
    products = Product.objects.filter(team=team)
    first = products.order_by("created_at").first()
    live = products.filter(live_version__isnull=False).order_by("created_at").first()
    embedded = products.exclude(allowed_origins=[]).exists() or Generation.objects.filter(
        team=team, channel=Generation.Channel.WIDGET
    ).exists()

    def product_page(name: str, product: Product | None) -> str:
        product = product or first
        return reverse(name, args=[team.slug, product.slug]) if product else reverse("product_new", args=[team.slug])

    return [
        GettingStartedStep(
            "Create a product", "Pick a template: a copywriter, a Q&A assistant or a text classifier.",
            reverse("product_new", args=[team.slug]), first is not None,
        ),
        GettingStartedStep(
            "Try it", "Give it an input in the playground and read what it writes.",
            product_page("playground", None),
            Generation.objects.filter(team=team, channel=Generation.Channel.PLAYGROUND).exists(),
        ),
        GettingStartedStep(
            "Upload a dataset", "Examples of good work teach a product your style; we check the file first.",
            reverse("dataset_upload", args=[team.slug]), DatasetVersion.objects.filter(dataset__team=team).exists(),
        ),
        GettingStartedStep(
            "Publish", "Save a version you like and make it live for your site and your API.",
            product_page("versions", None), live is not None,
        ),
        GettingStartedStep(
            "Embed it on your website", "Add your site on the Embed tab and paste one script tag into your pages.",
            product_page("embed", live), embedded,
        ),
    ]
