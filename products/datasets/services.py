"""Writes for datasets: create, upload, save versions, clean up, delete. Every change is team-scoped.

A file is written only after validation passed, and in the same guarded block as its row, so a
rejected or failed upload leaves no row, no version and no file behind.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import PurePath
from typing import Any, BinaryIO

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max, ProtectedError, RestrictedError
from django.utils import timezone

from products.datasets.cleanup import CLEANUPS, VERSION_CLEANUPS, CleanupResult, clean_file
from products.datasets.formats import FileFormat
from products.datasets.issues import DatasetFileError
from products.datasets.mapping import mapping_validate
from products.datasets.requirements import shape_get
from products.datasets.selectors import dataset_version_usages, usage_sentence
from products.datasets.split import MAX_FRACTION, validation_size
from products.datasets.storage import (
    delete_on_commit,
    files_deleted_on_failure,
    new_file_name,
    store_stream,
    sweep_orphans,
)
from products.datasets.validation import ValidationResult, validate_file
from products.models import Dataset, DatasetUpload, DatasetVersion
from products.models.dataset import StoredDatasetFile, Verdict
from studio.models import Team

logger = logging.getLogger(__name__)

UPLOAD_LIFETIME = timedelta(days=1)
MAX_SEED = 2**31 - 1


class DatasetFileRejected(ValidationError):
    """The file cannot be used; ``result.report`` says why, line by line. Nothing was stored."""

    def __init__(self, result: ValidationResult) -> None:
        self.result = result
        super().__init__({"file": result.error_message})


def megabytes(size: int) -> str:
    value = size / (1024 * 1024)
    return f"{value:,.1f} MB" if value < 10 else f"{value:,.0f} MB"


def upload_too_large_message(size: int) -> str:
    return (
        f"This file is {megabytes(size)}; the limit is {megabytes(settings.MAX_UPLOAD_BYTES)}. Split it into "
        "smaller files, or ask whoever runs the studio to raise STUDIO_MAX_UPLOAD_MB."
    )


def _binary(file: Any) -> BinaryIO:
    """The raw binary stream of a Django File / UploadedFile, or the stream itself."""
    inner = getattr(file, "file", None)
    return inner if inner is not None else file


def _clean_name(*, team: Team, name: str, exclude_pk: int | None = None) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Give the dataset a name, e.g. “Product descriptions”."})
    candidate = Dataset(team=team, name=name)
    try:
        candidate.full_clean(exclude=["created_by"])
    except ValidationError as exc:
        errors = exc.message_dict
        raise ValidationError({"name": errors.get(NON_FIELD_ERRORS, []) + errors.get("name", [])}) from None
    return name


@transaction.atomic
def dataset_create(*, team: Team, user: AbstractBaseUser | None, name: str, description: str = "") -> Dataset:
    name = _clean_name(team=team, name=name)
    dataset = Dataset(team=team, name=name, description=description.strip(), created_by=user)
    dataset.full_clean()
    try:
        with transaction.atomic():
            dataset.save()
    except IntegrityError:  # a concurrent create of the same name won the race
        raise ValidationError({"name": "Your team already has a dataset with this name."}) from None
    return dataset


def dataset_upload_create(
    *,
    team: Team,
    user: AbstractBaseUser | None,
    file: Any,
    dataset: Dataset | None = None,
    name: str = "",
    description: str = "",
    keep_fixable: bool = True,
) -> DatasetUpload:
    """Validate an uploaded file as a stream and keep it, with its report, until its columns are mapped.

    A file whose only errors have a fix button (``ValidationResult.fixable``: lines that are not UTF-8,
    rows with the wrong number of values) is kept too, with its report, so those buttons can fix it
    (unless ``keep_fixable`` is False: callers without buttons, like the REST API, get the rejection).
    Raises DatasetFileRejected (carrying the full report) when the file cannot be used or fixed, and
    ValidationError for a missing or taken name or a file over the size cap. Nothing is stored then.
    """
    if dataset is not None and dataset.team_id != team.pk:
        raise ValueError("The dataset belongs to another team.")
    if dataset is None:
        name = _clean_name(team=team, name=name)
    size = getattr(file, "size", None)
    if size is not None and size > settings.MAX_UPLOAD_BYTES:
        raise ValidationError({"file": upload_too_large_message(size)})
    dataset_uploads_purge_stale(team=team)
    stream = _binary(file)
    original_name = PurePath(getattr(file, "name", "") or "").name[:255]
    result = validate_file(stream, filename=original_name)
    if not result.usable and not (keep_fixable and result.fixable):
        raise DatasetFileRejected(result)
    assert result.fmt is not None
    with files_deleted_on_failure() as written, transaction.atomic():
        stored = store_stream(stream, name=new_file_name(team_id=team.pk, fmt=result.fmt.format))
        written.append(stored.name)
        if stored.size > settings.MAX_UPLOAD_BYTES:  # a stream without a known size
            raise ValidationError({"file": upload_too_large_message(stored.size)})
        upload = DatasetUpload(
            team=team,
            dataset=dataset,
            name="" if dataset else name,
            description="" if dataset else description.strip(),
            original_name=original_name,
            created_by=user,
            **_file_fields(stored_name=stored.name, sha256=stored.sha256, size=stored.size, result=result),
        )
        upload.full_clean()
        upload.save()
    return upload


def _file_fields(*, stored_name: str, sha256: str, size: int, result: ValidationResult) -> dict[str, Any]:
    assert result.fmt is not None
    return {
        "file": stored_name,
        "sha256": sha256,
        "size_bytes": size,
        "format": result.fmt.format,
        "encoding": result.fmt.encoding,
        "delimiter": result.fmt.delimiter,
        "row_count": result.row_count,
        "columns": result.columns,
        "report": result.report | {"size_bytes": size},
        "verdict": result.verdict,
    }


def _split_settings(validation_fraction: Any, split_seed: Any) -> tuple[float, int]:
    errors = {}
    try:
        fraction = float(validation_fraction)
        if not 0 <= fraction <= MAX_FRACTION:
            raise ValueError
    except (TypeError, ValueError):
        errors["validation_fraction"] = f"Hold out between 0 and {MAX_FRACTION * 100:.0f} % of the rows for validation."
    try:
        seed = int(split_seed)
        if not 0 <= seed <= MAX_SEED:
            raise ValueError
    except (TypeError, ValueError):
        errors["split_seed"] = f"The seed is a whole number from 0 to {MAX_SEED:,}."
    if errors:
        raise ValidationError(errors)
    return fraction, seed


def _next_number(dataset: Dataset) -> int:
    return (dataset.versions.aggregate(top=Max("number"))["top"] or 0) + 1


@transaction.atomic
def dataset_version_create(
    *,
    source: DatasetUpload | DatasetVersion,
    user: AbstractBaseUser | None,
    kind: str,
    shape: str,
    column_mapping: dict[str, Any],
    validation_fraction: float = 0.1,
    split_seed: int = 42,
    note: str = "",
) -> DatasetVersion:
    """Save an immutable version from a mapped upload (which it consumes) or re-map an existing version.

    A re-mapped version shares its source's stored file: the content did not change.
    """
    shape_obj = shape_get(kind, shape)
    fraction, seed = _split_settings(validation_fraction, split_seed)
    mapping = mapping_validate(shape=shape_obj, columns=source.column_names, mapping=column_mapping)
    if isinstance(source, DatasetUpload):
        upload = DatasetUpload.objects.select_for_update().filter(pk=source.pk).first()
        if upload is None:
            raise ValidationError("This upload was already saved or discarded. Open the dataset to see its versions.")
        if upload.verdict == Verdict.UNUSABLE:
            raise ValidationError("This file cannot be used yet: use the fix buttons in its report first.")
        if upload.dataset_id:
            dataset = Dataset.objects.select_for_update().get(pk=upload.dataset_id)
        else:
            dataset = dataset_create(team=upload.team, user=user, name=upload.name, description=upload.description)
        origin, derived_from = upload, None
        note = note or (f"Uploaded {upload.original_name}".strip() + (f"; {upload.note}" if upload.note else ""))
    else:
        dataset = Dataset.objects.select_for_update().get(pk=source.dataset_id)
        unchanged = (source.kind, source.shape, source.column_mapping, source.validation_fraction, source.split_seed)
        if unchanged == (kind, shape, mapping, fraction, seed):
            raise ValidationError(f"Nothing changed: v{source.number} already has this mapping and split.")
        origin, derived_from, upload = source, source, None
        note = note or f"Re-mapped from v{source.number}"
    version = DatasetVersion(
        dataset=dataset,
        number=_next_number(dataset),
        note=note[:300],
        kind=kind,
        shape=shape,
        column_mapping=mapping,
        validation_fraction=fraction,
        split_seed=seed,
        validation_count=validation_size(origin.row_count, fraction),
        derived_from=derived_from,
        created_by=user,
        original_name=origin.original_name,
        **_copy_file_fields(origin),
    )
    version.full_clean()
    version.save()
    if upload is not None:
        earlier = _earlier_uploads(upload)
        upload.delete()  # the version owns the stored file now
        for done in earlier:  # the uploads the fixes started from are done with too
            dataset_upload_discard(upload=done)
    dataset.save(update_fields=["updated_at"])
    return version


def _earlier_uploads(upload: DatasetUpload) -> list[DatasetUpload]:
    """The uploads a fixed copy was made from, nearest first (a fix never points to a later upload)."""
    chain, current = [], upload.derived_from
    while current is not None and len(chain) < 100:
        chain.append(current)
        current = current.derived_from
    return chain


def _copy_file_fields(origin: DatasetUpload | DatasetVersion) -> dict[str, Any]:
    names = ("sha256", "size_bytes", "format", "encoding", "delimiter", "row_count", "columns", "report", "verdict")
    return {"file": origin.file.name, **{name: getattr(origin, name) for name in names}}


def _checked_actions(actions: Iterable[str], allowed: Iterable[str]) -> list[str]:
    actions = sorted(set(actions))
    if not actions:
        raise ValidationError("Choose at least one fix.")
    unknown = [action for action in actions if action not in allowed]
    if unknown:
        raise ValidationError(f"Unknown fix “{unknown[0]}”.")
    return actions


@contextmanager
def _fixed_file(
    source: StoredDatasetFile, *, actions: list[str], allow_fixable: bool, nothing: str,
    drop_lines: Collection[int] = (), drop_why: str = "",
) -> Iterator[tuple[BinaryIO, FileFormat, CleanupResult, ValidationResult]]:
    """Stream ``source`` through the fixes into a temporary file and validate it; ValidationError when
    nothing changed or the result still cannot be used. Nothing is stored here."""
    fmt = FileFormat(source.format, source.encoding, source.delimiter)
    out_fmt = FileFormat(source.format, "utf-8", "," if source.format == "csv" else "")
    with tempfile.TemporaryFile() as target:
        with source.file.open("rb") as stream:
            try:
                result = clean_file(_binary(stream), target, fmt=fmt, columns=source.column_names, actions=actions,
                                    drop_lines=drop_lines, drop_why=drop_why)
            except DatasetFileError as exc:
                raise ValidationError(f"{exc.issue.detail} Choose “Read it as Windows-1252” first.") from None
        if not result.changed:
            wanted = " or ".join(CLEANUPS[action].lower().split(" (")[0] for action in actions) or "drop"
            raise ValidationError(f"{nothing}: there was nothing to {wanted}.")
        validation = validate_file(target, filename=f"fixed.{source.format}", fmt=out_fmt)
        if not validation.usable and not (allow_fixable and validation.fixable):
            raise ValidationError(f"After this fix the file cannot be used: {validation.error_message}")
        yield target, out_fmt, result, validation


@transaction.atomic
def dataset_upload_create_with_fixes(
    *, upload: DatasetUpload, user: AbstractBaseUser | None, actions: Iterable[str]
) -> DatasetUpload:
    """Apply fix buttons to an upload: a new, fixed upload (with its own report); the original stays as it was.

    The fixed copy names the upload it came from, so the review page can go back to it.
    """
    actions = _checked_actions(actions, CLEANUPS)
    fixing = _fixed_file(upload, actions=actions, allow_fixable=True, nothing="Nothing to fix in this upload")
    with (
        fixing as (target, out_fmt, result, validation),
        files_deleted_on_failure() as written,
    ):
        stored = store_stream(target, name=new_file_name(team_id=upload.team_id, fmt=out_fmt.format))
        written.append(stored.name)
        note = "; ".join(part for part in (upload.note, result.describe()) if part)
        fixed = DatasetUpload(
            team_id=upload.team_id,
            dataset_id=upload.dataset_id,
            name=upload.name,
            description=upload.description,
            original_name=upload.original_name,
            derived_from=upload,
            note=note[:300],
            created_by=user,
            **_file_fields(stored_name=stored.name, sha256=stored.sha256, size=stored.size, result=validation),
        )
        fixed.full_clean()
        fixed.save()
    return fixed


@transaction.atomic
def dataset_version_clean(
    *, version: DatasetVersion, user: AbstractBaseUser | None, actions: Iterable[str]
) -> DatasetVersion:
    """Apply one-click clean-ups to a version's rows and save the result as a new version."""
    actions = _checked_actions(actions, VERSION_CLEANUPS)
    nothing = f"Nothing to clean in v{version.number}"
    fixing = _fixed_file(version, actions=actions, allow_fixable=False, nothing=nothing)
    return _version_from_fixing(version=version, user=user, fixing=fixing, note=f"Clean-up of v{version.number}")


@transaction.atomic
def dataset_version_create_without_lines(
    *, version: DatasetVersion, user: AbstractBaseUser | None, lines: Collection[int], why: str
) -> DatasetVersion:
    """A new version of ``version``'s rows without those on ``lines`` (found by a check that reads another file).

    ``why`` says what those rows have in common, for the new version's note ("naming items not in the catalog").
    """
    if not lines:
        raise ValidationError(f"Nothing to drop in v{version.number}: no row is {why}.")
    fixing = _fixed_file(version, actions=[], allow_fixable=False, nothing=f"Nothing to drop in v{version.number}",
                         drop_lines=lines, drop_why=why)
    return _version_from_fixing(version=version, user=user, fixing=fixing, note=f"From v{version.number}")


def _version_from_fixing(*, version: DatasetVersion, user: AbstractBaseUser | None, fixing, note: str
                         ) -> DatasetVersion:
    """Store what ``fixing`` (a ``_fixed_file``) wrote as the next version, with ``version``'s mapping and split."""
    with (
        fixing as (target, out_fmt, result, validation),
        files_deleted_on_failure() as written,
    ):
        shape_obj = shape_get(version.kind, version.shape)
        columns = [column["name"] for column in validation.columns]
        mapping = mapping_validate(shape=shape_obj, columns=columns, mapping=version.column_mapping)
        stored = store_stream(target, name=new_file_name(team_id=version.dataset.team_id, fmt=out_fmt.format))
        written.append(stored.name)
        dataset = Dataset.objects.select_for_update().get(pk=version.dataset_id)
        cleaned = DatasetVersion(
            dataset=dataset,
            number=_next_number(dataset),
            note=f"{note}: {result.describe()}."[:300],
            kind=version.kind,
            shape=version.shape,
            column_mapping=mapping,
            validation_fraction=version.validation_fraction,
            split_seed=version.split_seed,
            validation_count=validation_size(validation.row_count, version.validation_fraction),
            derived_from=version,
            created_by=user,
            original_name=version.original_name,
            **_file_fields(stored_name=stored.name, sha256=stored.sha256, size=stored.size, result=validation),
        )
        cleaned.full_clean()
        cleaned.save()
        dataset.save(update_fields=["updated_at"])
    return cleaned


def _file_in_use(name: str, *, ignore_version: int | None = None, ignore_upload: int | None = None) -> bool:
    return (
        DatasetVersion.objects.filter(file=name).exclude(pk=ignore_version).exists()
        or DatasetUpload.objects.filter(file=name).exclude(pk=ignore_upload).exists()
    )


@transaction.atomic
def dataset_version_delete(*, version: DatasetVersion) -> None:
    """Delete a version nothing uses, and its file once no other version shares it."""
    usages = dataset_version_usages(version=version)
    if usages:
        raise ValidationError(
            f"v{version.number} is used by {usage_sentence(usages)}, so it cannot be deleted. "
            "Delete or change those first, or keep this version."
        )
    name = version.file.name
    try:
        version.delete()
    except ProtectedError as exc:
        raise _still_used(version, exc.protected_objects) from None
    except RestrictedError as exc:
        raise _still_used(version, exc.restricted_objects) from None
    if not _file_in_use(name):
        delete_on_commit(name)


def _still_used(version: DatasetVersion, objects: Iterable[Any]) -> ValidationError:
    # A relation the generic check could not see (e.g. a generic foreign key) still protects the row.
    names = sorted(str(obj) for obj in objects)[:5]
    return ValidationError(f"v{version.number} is still used by {', '.join(names)}, so it cannot be deleted.")


@transaction.atomic
def dataset_upload_discard(*, upload: DatasetUpload, with_earlier: bool = False) -> None:
    """Forget an upload and its file; ``with_earlier`` also the uploads its fixes were made from."""
    for each in [upload, *(_earlier_uploads(upload) if with_earlier else [])]:
        name = each.file.name
        each.delete()
        if not _file_in_use(name):
            delete_on_commit(name)


def dataset_uploads_purge_stale(*, team: Team) -> int:
    """Forget the team's uploads nobody mapped within a day, and files no row names any more."""
    cutoff = timezone.now() - UPLOAD_LIFETIME
    with transaction.atomic():
        stale = list(DatasetUpload.objects.select_for_update(skip_locked=True).filter(team=team, created_at__lt=cutoff))
        for upload in stale:
            dataset_upload_discard(upload=upload)
    referenced = set(DatasetUpload.objects.filter(team=team).values_list("file", flat=True))
    referenced |= set(DatasetVersion.objects.filter(dataset__team=team).values_list("file", flat=True))
    sweep_orphans(team_id=team.pk, referenced=referenced)
    return len(stale)
