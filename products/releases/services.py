"""Writes for A/B releases: start a split, promote its candidate, stop it."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from products.models import Product, ProductVersion, Release
from products.services import SPLIT_STOP, product_version_publish


@transaction.atomic
def release_start(
    *, product: Product, candidate: ProductVersion, share_percent: int, user: AbstractBaseUser | None
) -> Release:
    """Send ``share_percent`` % of visitors (sticky) to ``candidate``; the others keep the live version."""
    Product.objects.select_for_update().filter(pk=product.pk).first()  # two starts at once: one wins, one is told
    product.refresh_from_db(fields=["live_version"])
    if candidate.product_id != product.pk:
        raise ValidationError({"candidate": "That version belongs to another product."})
    if product.live_version_id is None:
        raise ValidationError({"candidate": "Publish a version first: a split compares a version with the live one."})
    if candidate.pk == product.live_version_id:
        raise ValidationError({"candidate": f"Version {candidate.number} is already live for everyone. "
                                            "Choose another version to try."})
    if Release.objects.filter(product=product, stopped_at__isnull=True).exists():
        raise ValidationError("A split is already running. Promote or stop it before starting another.")
    release = Release(team_id=product.team_id, product=product, candidate=candidate, control=product.live_version,
                      share_percent=share_percent, started_by=user)
    release.full_clean()
    release.save()
    return release


def _running(release: Release) -> Release:
    release = Release.objects.select_for_update().select_related("candidate", "product").get(pk=release.pk)
    if not release.running:
        raise ValidationError("This split has already ended.")
    return release


@transaction.atomic
def release_promote(*, release: Release, user: AbstractBaseUser | None) -> Release:
    """Make the candidate live for everyone, which ends the split."""
    release = _running(release)
    product_version_publish(product=release.product, version=release.candidate, user=user, split=SPLIT_STOP)
    release.refresh_from_db()
    return release


@transaction.atomic
def release_stop(*, release: Release, user: AbstractBaseUser | None) -> Release:
    """End the split: everyone gets the live version again."""
    release = _running(release)
    release.outcome, release.stopped_at = Release.Outcome.STOPPED, timezone.now()
    release.save(update_fields=["outcome", "stopped_at"])
    return release
