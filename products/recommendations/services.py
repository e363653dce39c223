"""Writes of a recommender's data: a new version that recommends from a newer catalog without retraining, and
the one-click drop of interactions that name items the catalog does not have."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from products.datasets.services import dataset_version_create_without_lines
from products.models import DatasetVersion, Product, ProductVersion
from products.recommendations.data import catalog_items, recommender_data
from products.recommendations.selectors import CATALOG_KEY, trained_catalog
from products.services import product_version_create

#: New items a version may add without retraining: MiniLM reads ~40 a second on the worker's one thread
#: (tests/benchmarks/bench_recommender.py speed), and the first request waits for them (idle timeout 120 s).
MAX_NEW_ITEMS = 2_000


@transaction.atomic
def product_catalog_update(*, product: Product, user: AbstractBaseUser, catalog: DatasetVersion) -> ProductVersion:
    """Point the draft at ``catalog`` and save it as a new version (publish it to make it live).

    Versions are immutable, so the newer catalog is a new version: the model stays the one trained, the items
    it has not seen are embedded by the worker and recommended by their descriptions until the next training,
    and rolling back serves the old catalog again.
    """
    product = Product.objects.select_for_update().get(pk=product.pk)
    if product.kind != "recommendation":
        raise ValidationError("Only a recommender recommends from a catalog.")
    if catalog.dataset.team_id != product.team_id or (catalog.kind, catalog.shape) != ("recommendation", "catalog"):
        raise ValidationError(f"{catalog} is not one of this team's recommendation catalogs.")
    trained = trained_catalog(product)
    if trained is None:
        raise ValidationError("Train the recommender first: a newer catalog joins a trained model.")
    items, problems = catalog_items(catalog)
    if problems:
        raise ValidationError(problems[0])
    known = {item.id for item in catalog_items(trained)[0]}
    new = sum(1 for item in items if item.id not in known)
    if new > MAX_NEW_ITEMS:
        raise ValidationError(
            f"{catalog} has {new:,} item{'' if new == 1 else 's'} the model was not trained on "
            f"(at most {MAX_NEW_ITEMS:,} join without "
            "training: the worker reads each one's description before the first answer). Train the recommender "
            "on this catalog instead (Fine-tune tab)."
        )
    config = {key: value for key, value in (product.kind_config or {}).items() if key != CATALOG_KEY}
    if catalog.pk != trained.pk:
        config[CATALOG_KEY] = catalog.pk
    product.kind_config = config
    product.full_clean()
    product.save()
    note = (
        f"Recommends from the catalog {catalog}: {new} item{'' if new == 1 else 's'} the model was not trained "
        "on, recommended by their descriptions until the next training."
    )
    return product_version_create(product=product, user=user, note=note)


@transaction.atomic
def interactions_version_drop_unknown_items(
    *, interactions: DatasetVersion, catalog: DatasetVersion, user: AbstractBaseUser | None
) -> DatasetVersion:
    """A new interactions version without the rows naming items not in ``catalog`` (both stay as they were)."""
    if (interactions.kind, interactions.shape, catalog.kind, catalog.shape) != (
        "recommendation",
        "interactions",
        "recommendation",
        "catalog",
    ):
        raise ValidationError("Choose an interactions version and a catalog version mapped for recommendations.")
    if interactions.dataset.team_id != catalog.dataset.team_id:
        raise ValidationError("Choose a catalog of the same team as the interactions.")
    unknown = recommender_data(catalog=catalog, interactions=interactions).unknown_item_lines
    return dataset_version_create_without_lines(
        version=interactions, user=user, lines=unknown, why=f"naming items not in the catalog {catalog}"
    )
