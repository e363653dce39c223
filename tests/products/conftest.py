"""Dataset test helpers: a private media directory per test (autouse, for this whole folder),
files to upload, and a snapshot of what exists."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from products.models import Dataset, DatasetUpload, DatasetVersion

GOOD_CSV = (
    b"question,answer\n"
    b"What are your opening hours?,We are open 9 to 5.\n"
    b"Do you ship abroad?,Yes: to the EU and the UK.\n"
    b"Can I return an item?,Within 30 days.\n"
)


def media_files(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())


def state(root: Path) -> tuple:
    """What a failed upload must leave unchanged: every dataset row and every stored file."""
    return (
        Dataset.objects.count(),
        DatasetUpload.objects.count(),
        DatasetVersion.objects.count(),
        media_files(root),
    )


def uploaded(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


@pytest.fixture
def acme(make_team):
    """A team for dataset tests (named so it cannot clash with other suites' ``team`` fixtures)."""
    return make_team("Acme")


@pytest.fixture
def acme_owner(acme):
    return acme.memberships.get().user


@pytest.fixture
def make_version(acme, acme_owner):
    """make_version(data=..., name=..., kind="qa", shape="pairs", mapping=...) → a saved DatasetVersion."""
    from products.datasets.services import dataset_upload_create, dataset_version_create

    def make(
        data: bytes = GOOD_CSV,
        *,
        filename: str = "faq.csv",
        name: str = "FAQ",
        dataset=None,
        kind: str = "qa",
        shape: str = "pairs",
        mapping: dict | None = None,
        fraction: float = 0.1,
        seed: int = 42,
    ) -> DatasetVersion:
        upload = dataset_upload_create(
            team=acme, user=acme_owner, file=uploaded(filename, data), dataset=dataset, name=name
        )
        return dataset_version_create(
            source=upload, user=acme_owner, kind=kind, shape=shape,
            column_mapping=mapping or {"question": ["question"], "answer": ["answer"]},
            validation_fraction=fraction, split_seed=seed,
        )

    return make


# The classifier's fixtures (a ticket-routing product, labelled datasets from the shipped sample).
from tests.training.classifier_fixtures import classifier_artifact, make_labelled_version, router  # noqa: E402,F401
from tests.training.recommender_fixtures import make_reco_version, shop_reco  # noqa: E402,F401
