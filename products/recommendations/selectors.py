"""Reads about the catalog a recommender serves: the one it learnt from, the one a version points at, newer ones.

A version recommends from the catalog its model was trained on, unless its kind_config names a newer catalog
version (``catalog_version``, set by “Use the new catalog”): then the worker embeds the items the model has
not seen and serves them through the content path until the next training.
"""

from __future__ import annotations

from dataclasses import dataclass

from inference.models import TrainingRunInput
from products.models import DatasetVersion
from products.models.product import ProductConfig
from products.recommendations.data import CatalogItem, catalog_items

CATALOG_KEY = "catalog_version"


@dataclass(frozen=True)
class NewerCatalog:
    """A catalog version newer than the one a product's draft recommends from, and what changes with it."""

    current: DatasetVersion
    latest: DatasetVersion
    new_items: list[CatalogItem]
    removed: int
    problems: list[str]


def trained_catalog(config: ProductConfig) -> DatasetVersion | None:
    """The catalog version the config's trained recommender learnt from; None before any training."""
    if config.fine_tuned_artifact_id is None:
        return None
    run_input = (
        TrainingRunInput.objects.filter(
            run__artifact__pk=config.fine_tuned_artifact_id, role=TrainingRunInput.Role.CATALOG
        )
        .select_related("dataset_version__dataset")
        .first()
    )
    return run_input.dataset_version if run_input else None


def served_catalog(config: ProductConfig, *, team_id: int) -> DatasetVersion | None:
    """The catalog version the config recommends from: the one it points at, else the one its model learnt from."""
    chosen = (config.kind_config or {}).get(CATALOG_KEY)
    if chosen:
        version = DatasetVersion.objects.select_related("dataset").filter(pk=chosen, dataset__team_id=team_id).first()
        if version is not None:
            return version
    return trained_catalog(config)


def catalog_version_latest(*, version: DatasetVersion) -> DatasetVersion:
    """The newest version of the dataset ``version`` belongs to, mapped as a recommendation catalog."""
    return (
        DatasetVersion.objects.select_related("dataset")
        .filter(dataset_id=version.dataset_id, kind="recommendation", shape="catalog")
        .order_by("-number")
        .first()
    ) or version


def newer_catalog(*, product) -> NewerCatalog | None:
    """What “Use the new catalog” would change for ``product``; None when its catalog is the newest one."""
    current = served_catalog(product, team_id=product.team_id)
    if current is None:
        return None
    latest = catalog_version_latest(version=current)
    if latest.number <= current.number:
        return None
    trained = trained_catalog(product) or current
    known = {item.id for item in catalog_items(trained)[0]}
    items, problems = catalog_items(latest)
    ids = {item.id for item in items}
    return NewerCatalog(
        current=current,
        latest=latest,
        new_items=[item for item in items if item.id not in known],
        removed=len(known - ids),
        problems=problems,
    )


def catalog_version_items(*, version_id: int) -> list[CatalogItem]:
    """The items of a catalog version, for the worker that serves a version pointing at it."""
    version = DatasetVersion.objects.filter(pk=version_id, kind="recommendation", shape="catalog").first()
    if version is None:
        raise ValueError(
            "The catalog this version recommends from was deleted: make a version with another "
            "catalog (Versions → Use the new catalog) or train the recommender again."
        )
    return catalog_items(version)[0]
