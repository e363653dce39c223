"""Fixtures for recommender tests: a shop's recommendation product and the shipped sample catalog and purchases."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from products.datasets.seed import SAMPLES_DIR
from products.datasets.services import dataset_upload_create, dataset_version_create
from products.services import product_create

CATALOG_MAPPING = {"item": ["sku"], "title": ["name"], "category": ["category"], "image": ["image_url"],
                   "link": ["url"], "text": ["description"]}
INTERACTIONS_MAPPING = {"user": ["customer_id"], "item": ["sku"], "rating": ["rating"], "timestamp": ["timestamp"]}


def sample_csv(name: str) -> bytes:
    return (SAMPLES_DIR / name).read_bytes()


def rows_csv(header: list[str], rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def sample_rows(name: str) -> tuple[list[str], list[list[str]]]:
    with (SAMPLES_DIR / name).open(newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        return header, list(reader)


@pytest.fixture
def shop_reco(make_team):
    """(team, owner, "Picked for you" recommendation product) of a team called Outdoor shop."""
    team = make_team("Outdoor shop")
    owner = team.memberships.get().user
    product = product_create(team=team, user=owner, kind_id="recommendation", template_id="picked-for-you",
                             name="Recommender")
    return team, owner, product


@pytest.fixture
def make_reco_version(shop_reco):
    """make_reco_version("catalog" | "interactions", content=None, mapping=None) → a mapped dataset version."""

    def make(shape: str, content: bytes | None = None, *, mapping=None, name=None, team=None, user=None):
        team_, owner, _ = shop_reco
        file_name = "shop_catalog.csv" if shape == "catalog" else "shop_interactions.csv"
        upload = dataset_upload_create(
            team=team or team_, user=user or owner, name=name or f"Shop {shape}",
            file=SimpleUploadedFile(file_name, content or sample_csv(file_name), content_type="text/csv"),
        )
        return dataset_version_create(
            source=upload, user=user or owner, kind="recommendation", shape=shape,
            column_mapping=mapping or (CATALOG_MAPPING if shape == "catalog" else INTERACTIONS_MAPPING),
        )

    return make
