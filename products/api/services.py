"""Writes through the API: keys (the secret is returned once, never stored), generations, dataset uploads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from products.datasets.mapping import mapping_guess, mapping_shape_check
from products.datasets.requirements import shape_get
from products.datasets.services import dataset_upload_create, dataset_upload_discard, dataset_version_create
from products.models import ApiKey, Dataset, DatasetVersion, Product
from products.models.apikey import DISPLAY_PREFIX_LENGTH, hash_secret_key, new_secret_key
from studio.models import AuditEvent, Team
from studio.services import audit_record

# last_used_at is for people ("used 3 minutes ago"); writing it on every request would cost a write per call.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class CreatedApiKey:
    api_key: ApiKey
    secret: str  # shown to the person once, then gone


@transaction.atomic
def api_key_create(*, team: Team, user: AbstractBaseUser, name: str, scope: str) -> CreatedApiKey:
    name = name.strip()
    if not name:
        raise ValidationError({"name": "Give the key a name that says where it is used, e.g. “Shop backend”."})
    if scope not in ApiKey.Scope.values:
        raise ValidationError({"scope": "Choose read only; read and generate; or read, generate and manage."})
    secret = new_secret_key()
    api_key = ApiKey(team=team, name=name, scope=scope, created_by=user,
                     prefix=secret[:DISPLAY_PREFIX_LENGTH], hashed_secret=hash_secret_key(secret))
    api_key.full_clean()
    api_key.save()
    audit_record(team=team, actor=user, action=AuditEvent.Action.API_KEY_CREATED,
                 summary=f"“{api_key.name}” ({api_key.prefix}…), {api_key.get_scope_display().lower()}")
    return CreatedApiKey(api_key=api_key, secret=secret)


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey, user: AbstractBaseUser | None = None) -> ApiKey:
    """Stop the key working; the next request with it gets 401. Revoking twice keeps the first time."""
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
        audit_record(team=api_key.team, actor=user, action=AuditEvent.Action.API_KEY_REVOKED,
                     summary=f"“{api_key.name}” ({api_key.prefix}…)")
    return api_key


def api_key_mark_used(*, api_key: ApiKey) -> None:
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now


def api_dataset_version_upload(
    *, api_key: ApiKey, file: Any, use: str, column_mapping: dict[str, Any] | None = None,
    dataset: Dataset | None = None, name: str = "", description: str = "", validation_fraction: float = 0.1,
    split_seed: int = 42, note: str = "",
) -> DatasetVersion:
    """Validate, store and map a file in one call: a new dataset (or a new version of ``dataset``), or nothing.

    The studio's pages take three steps (upload, read the report, map columns); code takes one. Columns
    are mapped by ``column_mapping``, else guessed from their names as the mapping page would. Raises
    DatasetFileRejected with the validation report, or ValidationError naming what to fix; either way no
    upload, file or dataset is left behind. The key's creator is recorded as the uploader.

    Not one transaction: the upload stores its file first and cleans up after itself (see
    dataset_upload_create), so a refused mapping discards the upload explicitly instead.
    """
    user = _key_owner(api_key, doing="upload datasets")
    kind, _, shape = use.partition(":")
    shape_obj = shape_get(kind, shape)
    if column_mapping is not None:  # before the file is stored: a malformed mapping must leave nothing
        try:
            mapping_shape_check(column_mapping)
        except ValidationError as exc:
            raise ValidationError({"column_mapping": exc.messages}) from None
    upload = dataset_upload_create(team=api_key.team, user=user, file=file, dataset=dataset, name=name,
                                   description=description, keep_fixable=False)
    try:
        if column_mapping is None:
            column_mapping = mapping_guess(shape=shape_obj, columns=upload.column_names)
        return dataset_version_create(
            source=upload, user=user, kind=kind, shape=shape, column_mapping=column_mapping,
            validation_fraction=validation_fraction, split_seed=split_seed, note=note,
        )
    except ValidationError:
        dataset_upload_discard(upload=upload)
        raise


def api_product_create(
    *, api_key: ApiKey, kind_id: str, template_id: str, name: str = "", knowledge_version: DatasetVersion | None = None,
) -> Product:
    """A product from a gallery template for the key's team, recorded as made by the key's creator."""
    from products.services import product_create

    user = _key_owner(api_key, doing="create products")
    return product_create(team=api_key.team, user=user, kind_id=kind_id, template_id=template_id, name=name,
                          knowledge_version=knowledge_version)


def _key_owner(api_key: ApiKey, *, doing: str) -> AbstractBaseUser:
    """The person a write is recorded against: the key's creator, who must still be in the studio."""
    if api_key.created_by is None:
        raise ValidationError(f"The person who created this API key has left the studio, so it cannot {doing}. "
                              "Ask a team admin for a new key.")
    return api_key.created_by


def _key_actor(api_key: ApiKey) -> str:
    return f"API key “{api_key.name}” ({api_key.prefix}…)"


def api_training_run_start(
    *, api_key: ApiKey, product: Product, dataset_version: DatasetVersion, settings: dict[str, Any],
    base_model: str | None = None, catalog_version: DatasetVersion | None = None,
):
    """Queue a fine-tune for the key's team; the run's log names the key, the run's owner is the key's creator."""
    from products.training.services import training_run_create

    user = _key_owner(api_key, doing="start fine-tunes")
    return training_run_create(product=product, dataset_version=dataset_version, user=user,
                               overrides=settings, base_model=base_model, actor=_key_actor(api_key),
                               catalog_version=catalog_version)


def api_training_run_cancel(*, api_key: ApiKey, run):
    from products.training.services import training_run_cancel

    return training_run_cancel(run=run, user=api_key.created_by, actor=_key_actor(api_key))
