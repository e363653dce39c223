"""The demo team's sample datasets: created once, mapped, and readable as examples."""

from __future__ import annotations

import pytest

from products.datasets.seed import dataset_seed_samples
from products.datasets.selectors import dataset_version_examples
from products.models import DatasetVersion
from tests.products.conftest import media_files

pytestmark = pytest.mark.django_db


def test_seed_creates_seven_mapped_ready_sample_datasets_once(acme, acme_owner, media_root):
    versions = dataset_seed_samples(team=acme, user=acme_owner)
    summary = sorted((v.dataset.name, v.kind, v.shape, v.row_count, v.verdict) for v in versions)
    assert summary == [
        ("Help centre articles", "qa", "documents", 12, "ready"),
        ("Product descriptions", "copywriting", "examples", 40, "ready"),
        ("Shop catalog", "recommendation", "catalog", 63, "ready"),
        ("Shop purchases", "recommendation", "interactions", 1120, "ready"),
        ("Store FAQ", "qa", "pairs", 30, "ready"),
        ("Support messages", "classification", "labelled", 40, "ready"),
        ("Support tickets", "classification", "labelled", 300, "ready"),
    ]
    assert dataset_seed_samples(team=acme, user=acme_owner) == []
    assert DatasetVersion.objects.count() == 7 and len(media_files(media_root)) == 7


def test_seeded_copywriting_examples_carry_inputs_by_column_and_the_output(acme, acme_owner):
    versions = {v.kind: v for v in dataset_seed_samples(team=acme, user=acme_owner) if v.shape != "documents"}
    first = next(dataset_version_examples(versions["copywriting"], kind="copywriting"))
    assert first["inputs"]["product"] == "Alder Ceramic Mug"
    assert set(first["inputs"]) == {"product", "category", "features"}
    assert first["output"].startswith("Start slow mornings right")
    assert len(list(dataset_version_examples(versions["qa"], split="validation"))) == 3


def test_seeded_help_centre_articles_are_passages_with_their_titles(acme, acme_owner):
    version = next(v for v in dataset_seed_samples(team=acme, user=acme_owner) if v.shape == "documents")
    first = next(dataset_version_examples(version, kind="qa"))
    assert first["title"] == "Creating an account"
    assert first["document"].startswith("You can create an account from the Sign up link")
