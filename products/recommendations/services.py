"""Writes for recommender data: the one-click drop of interactions that name items the catalog does not have."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from products.datasets.services import dataset_version_create_without_lines
from products.models import DatasetVersion
from products.recommendations.data import recommender_data


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
