"""Sample datasets for the demo team, so a newcomer has something to map, preview and train on."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.contrib.auth.models import AbstractBaseUser
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction

from products.datasets.services import dataset_upload_create, dataset_version_create
from products.models import Dataset, DatasetUpload, DatasetVersion
from studio.models import Team

SAMPLES_DIR = Path(__file__).resolve().parent / "samples"


@dataclass(frozen=True)
class Sample:
    file: str
    name: str
    description: str
    kind: str
    shape: str
    mapping: dict[str, list[str]]


SAMPLES = (
    Sample(
        "product_descriptions.csv", "Product descriptions",
        "Forty home and outdoor products with the shop's own descriptions: teaches the house style.",
        "copywriting", "examples",
        {"inputs": ["product", "category", "features"], "output": ["description"]},
    ),
    Sample(
        "store_faq.csv", "Store FAQ",
        "Thirty customer questions and the answers customer service gives.",
        "qa", "pairs", {"question": ["question"], "answer": ["answer"]},
    ),
    Sample(
        "help_centre.csv", "Help centre articles",
        "Twelve help-centre articles (accounts, delivery, returns, payment): a knowledge base to answer from.",
        "qa", "documents", {"document": ["article"], "title": ["title"]},
    ),
    Sample(
        "support_messages.csv", "Support messages",
        "Forty customer messages sorted into shipping, returns, billing, product and account.",
        "classification", "labelled", {"text": ["message"], "label": ["category"]},
    ),
    Sample(
        "support_tickets.csv", "Support tickets",
        "Three hundred customer messages, sixty each for shipping, returns, billing, product and account: "
        "enough to train and honestly measure a ticket router (written for the studio; ours to ship).",
        "classification", "labelled", {"text": ["message"], "label": ["category"]},
    ),
    Sample(
        "shop_catalog.csv", "Shop catalog",
        "Sixty-three items of a home and outdoor shop (camping, kitchen, coffee, garden, running, reading) with a "
        "description, a category, a picture and a link; three are new and nobody has chosen them yet.",
        "recommendation", "catalog",
        {"item": ["sku"], "title": ["name"], "category": ["category"], "image": ["image_url"], "link": ["url"],
         "text": ["description"]},
    ),
    Sample(
        "shop_interactions.csv", "Shop purchases",
        "About 1,100 purchases with a rating and a time by 140 customers of the shop catalog (written for the "
        "studio; ours to ship).",
        "recommendation", "interactions",
        {"user": ["customer_id"], "item": ["sku"], "rating": ["rating"], "timestamp": ["timestamp"]},
    ),
)


def dataset_seed_samples(*, team: Team, user: AbstractBaseUser | None) -> list[DatasetVersion]:
    """Create the sample datasets the team does not have yet (matched by name); returns the new versions."""
    created = []
    for sample in SAMPLES:
        if Dataset.objects.filter(team=team, name__iexact=sample.name).exists():
            continue
        upload: DatasetUpload | None = None
        try:
            with (SAMPLES_DIR / sample.file).open("rb") as handle, transaction.atomic():
                upload = dataset_upload_create(
                    team=team, user=user, file=File(handle, name=sample.file),
                    name=sample.name, description=sample.description,
                )
                created.append(
                    dataset_version_create(
                        source=upload, user=user, kind=sample.kind, shape=sample.shape,
                        column_mapping=sample.mapping, note="Sample data",
                    )
                )
        except BaseException:
            if upload is not None:  # the rollback removed the rows; remove the file they named
                default_storage.delete(upload.file.name)
            raise
    return created
