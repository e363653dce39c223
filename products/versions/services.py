"""Writes that bring a saved version's settings back into the draft."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from products.knowledge.services import knowledge_index_request
from products.models import Product, ProductVersion
from studio.services import audit_record


@transaction.atomic
def product_draft_load(*, product: Product, version: ProductVersion, user: AbstractBaseUser | None = None) -> Product:
    """Make the draft exactly ``version``'s settings (after a roll-back: reset it to the live version).

    Versions never change, so nothing is lost: the replaced draft is whatever the latest save froze, or
    unsaved edits the person was warned about on the page.
    """
    if version.product_id != product.pk:
        raise ValidationError("That version belongs to another product.")
    product = Product.objects.select_for_update().get(pk=product.pk)
    for name, value in version.config().items():
        setattr(product, name, value)
    product.template_id = version.template_id
    product.full_clean()
    product.save()
    audit_record(team=product.team, actor=user, action="version.loaded", summary=f"{product.name} v{version.number}")
    if product.knowledge_version_id is not None:  # its index may have been dropped since; a rebuild is queued
        knowledge_index_request(dataset_version=product.knowledge_version)
    return product
