"""Sample products for the demo team, so the first visit shows something that works."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from products.models import Product
from products.services import product_create, product_version_create, product_version_publish
from studio.models import Team

SAMPLES = [
    ("copywriting", "product-description", "Shop product descriptions", "First version from the template."),
    ("copywriting", "ad-headlines", "Ad headlines", ""),
    ("copywriting", "email-subject-lines", "Newsletter subject lines", ""),
    # Unpublished: it answers once trained on the “Support tickets” sample (its Train tab).
    ("classification", "support-routing", "Support ticket router", ""),
]


@transaction.atomic
def product_demo_seed(*, team: Team, user: AbstractBaseUser) -> list[Product]:
    """Create the sample products once; a published version for those with a note."""
    created = []
    for kind_id, template_id, name, note in SAMPLES:
        if Product.objects.filter(team=team, name=name).exists():
            continue
        product = product_create(team=team, user=user, kind_id=kind_id, template_id=template_id, name=name)
        if note:
            version = product_version_create(product=product, user=user, note=note)
            product_version_publish(product=product, version=version)
        created.append(product)
    return created
