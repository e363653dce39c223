"""Sample products for the demo team, so the first visit shows something that works."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from products.models import DatasetVersion, Product
from products.services import product_create, product_version_create, product_version_publish
from studio.models import Team

SAMPLES = [
    ("copywriting", "product-description", "Shop product descriptions", "First version from the template."),
    ("copywriting", "ad-headlines", "Ad headlines", ""),
    ("copywriting", "email-subject-lines", "Newsletter subject lines", ""),
    # Trained on the “Support tickets” sample by the training worker on first run; that run publishes it.
    ("classification", "support-routing", "Support ticket router", ""),
    # Trained on the “Shop purchases” and “Shop catalog” samples on first run; that run publishes it.
    ("recommendation", "picked-for-you", "Shop recommendations", ""),
]
#: The samples a demo product trains on at first run, published when it succeeds: (product, dataset, catalog).
TRAINED_SAMPLES = [("Support ticket router", "Support tickets", None),
                   ("Shop recommendations", "Shop purchases", "Shop catalog")]
#: Q&A samples: (template, name, the sample dataset it answers from (products/datasets/seed.py), note).
KNOWLEDGE_SAMPLES = [
    ("store-faq", "Store FAQ assistant", "Store FAQ", "Answers from the sample store FAQ."),
    ("help-centre", "Help-centre assistant", "Help centre articles", "Answers from the sample help centre."),
]


@transaction.atomic
def product_demo_seed(*, team: Team, user: AbstractBaseUser) -> list[Product]:
    """Create the sample products once; a published version for those with a note.

    The Q&A samples answer from the sample datasets (seeded before this runs): their knowledge bases
    are queued for reading here, so the embedded index worker builds them on the studio's first run.
    """
    created = []
    for kind_id, template_id, name, note in SAMPLES:
        if Product.objects.filter(team=team, name=name).exists():
            continue
        product = product_create(team=team, user=user, kind_id=kind_id, template_id=template_id, name=name)
        if note:
            version = product_version_create(product=product, user=user, note=note)
            product_version_publish(product=product, version=version)
        created.append(product)
    for template_id, name, dataset_name, note in KNOWLEDGE_SAMPLES:
        knowledge = (DatasetVersion.objects.filter(dataset__team=team, dataset__name__iexact=dataset_name)
                     .order_by("-number").first())
        if knowledge is None or Product.objects.filter(team=team, name=name).exists():
            continue
        product = product_create(team=team, user=user, kind_id="qa", template_id=template_id, name=name,
                                 knowledge_version=knowledge)
        version = product_version_create(product=product, user=user, note=note)
        product_version_publish(product=product, version=version)
        created.append(product)
    _queue_sample_training(team=team, user=user, created=created)
    return created


def _queue_sample_training(*, team: Team, user: AbstractBaseUser, created: list[Product]) -> None:
    """Queue the training of sample products that need a model before they answer (only when just created)."""
    from products.training.services import training_run_create

    def latest(name: str | None) -> DatasetVersion | None:
        if name is None:
            return None
        return (DatasetVersion.objects.filter(dataset__team=team, dataset__name__iexact=name)
                .order_by("-number").first())

    for product_name, dataset_name, catalog_name in TRAINED_SAMPLES:
        product = next((p for p in created if p.name == product_name), None)
        examples, catalog = latest(dataset_name), latest(catalog_name)
        if product is not None and examples is not None and (catalog_name is None or catalog is not None):
            training_run_create(product=product, dataset_version=examples, user=user, publish_on_success=True,
                                actor="the demo set-up", catalog_version=catalog)
