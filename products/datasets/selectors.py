"""Reads for datasets, always within one team, and streaming access to a version's rows.

Public helpers other code uses:

- ``dataset_version_iter_rows(version, *, split=None)`` yields every row as ``{column: text}``;
  ``split="train"`` or ``"validation"`` yields only that part of the version's seeded split.
- ``dataset_version_examples(version, *, kind=None, split=None)`` yields rows in the canonical
  field names of the kind the version is mapped for (see ``requirements.py``), skipping rows that
  miss a required value.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from itertools import islice
from typing import Any

from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.shortcuts import get_object_or_404

from products.datasets.formats import FileFormat
from products.datasets.mapping import Mapping, example_from_row, example_render, examples_from_rows
from products.datasets.reader import iter_rows
from products.datasets.requirements import Block, Shape, shape_get
from products.datasets.split import stratified_validation_flags, validation_flags
from products.models import Dataset, DatasetUpload, DatasetVersion
from products.models.dataset import StoredDatasetFile
from studio.models import Team

PREVIEW_ROWS = 25
SPLITS = ("train", "validation")


def dataset_list_for_team(*, team: Team) -> QuerySet[Dataset]:
    """The team's datasets, newest activity first, with their latest version's number, rows and verdict."""
    latest = DatasetVersion.objects.filter(dataset=OuterRef("pk")).order_by("-number")
    return Dataset.objects.filter(team=team).annotate(
        version_count=Count("versions"),
        latest_number=Subquery(latest.values("number")[:1]),
        latest_rows=Subquery(latest.values("row_count")[:1]),
        latest_verdict=Subquery(latest.values("verdict")[:1]),
        latest_kind=Subquery(latest.values("kind")[:1]),
    )


def dataset_get(*, team: Team, dataset_id: int) -> Dataset:
    """The team's dataset, or 404: other teams' datasets do not exist for this caller."""
    return get_object_or_404(Dataset, team=team, pk=dataset_id)


def dataset_version_list(*, dataset: Dataset) -> QuerySet[DatasetVersion]:
    return dataset.versions.select_related("created_by", "derived_from").order_by("-number")


def dataset_version_get(*, dataset: Dataset, number: int) -> DatasetVersion:
    return get_object_or_404(dataset.versions.select_related("dataset", "created_by"), number=number)


def dataset_version_list_for_kind(
    *, team: Team, kind: str, shapes: Sequence[str] | None = None
) -> QuerySet[DatasetVersion]:
    """Versions mapped for a product kind (and one of ``shapes``, when given), for product and training pages."""
    versions = DatasetVersion.objects.filter(dataset__team=team, kind=kind)
    if shapes is not None:
        versions = versions.filter(shape__in=list(shapes))
    return versions.select_related("dataset").order_by("dataset__name", "-number")


def dataset_upload_list_for_team(*, team: Team) -> QuerySet[DatasetUpload]:
    """Uploads waiting for a fix or a mapping; one a fix button was used on shows as its fixed copy."""
    return DatasetUpload.objects.filter(team=team, fixed_copies__isnull=True).select_related("dataset")


def dataset_upload_get(*, team: Team, upload_id: int) -> DatasetUpload:
    return get_object_or_404(
        DatasetUpload.objects.select_related("dataset", "team", "derived_from"), team=team, pk=upload_id
    )


# What uses a version ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Usage:
    """One row elsewhere that points at a dataset version (a training run, a product version…)."""

    label: str
    model: str
    model_plural: str
    url: str | None = None


def _usage_relations() -> list[Any]:
    # Found generically, so training runs and product versions count as soon as they add their
    # ``dataset_version`` foreign key; a hidden related_name ("+") is included too.
    return [
        field
        for field in DatasetVersion._meta.get_fields(include_hidden=True)
        if field.auto_created
        and not field.concrete
        and (field.one_to_many or field.one_to_one or field.many_to_many)
        and field.related_model is not DatasetVersion  # derived_from: history, not use
        and not field.related_model._meta.auto_created  # many-to-many through tables
    ]


def dataset_version_usages(*, version: DatasetVersion, limit: int = 50) -> list[Usage]:
    usages = []
    for relation in _usage_relations():
        model = relation.related_model
        meta = model._meta
        for obj in model._default_manager.filter(**{relation.field.name: version})[:limit]:
            url = obj.get_absolute_url() if hasattr(obj, "get_absolute_url") else None
            usages.append(Usage(str(obj), str(meta.verbose_name), str(meta.verbose_name_plural), url))
    return usages


def usage_sentence(usages: list[Usage]) -> str:
    """'2 training runs (Run 3, Run 4) and 1 product version (Shop copy v2)'."""
    groups: dict[tuple[str, str], list[str]] = {}
    for usage in usages:
        groups.setdefault((usage.model, usage.model_plural), []).append(usage.label)
    parts = [
        f"{len(labels)} {singular if len(labels) == 1 else plural} ({', '.join(labels[:5])}"
        f"{', …' if len(labels) > 5 else ''})"
        for (singular, plural), labels in groups.items()
    ]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


# Rows ------------------------------------------------------------------------------------------


def stored_rows(obj: StoredDatasetFile) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, row) for every row of an upload's or version's stored file, streamed."""
    fmt = FileFormat(obj.format, obj.encoding, obj.delimiter)
    with obj.file.storage.open(obj.file.name, "rb") as handle:
        yield from iter_rows(handle.file, fmt, obj.column_names)


def dataset_version_iter_rows(version: DatasetVersion, *, split: str | None = None) -> Iterator[dict[str, str]]:
    """Every row as {column: text}, streamed; ``split`` keeps only the "train" or "validation" rows."""
    if split is not None and split not in SPLITS:
        raise ValueError(f"split must be None, 'train' or 'validation', not {split!r}.")
    rows = (row for _, row in stored_rows(version))
    if split is None:
        yield from rows
        return
    want = split == "validation"
    flags = dataset_version_split_flags(version)
    for row, held_out in zip(rows, flags, strict=True):
        if held_out == want:
            yield row


def dataset_version_split_flags(version: DatasetVersion) -> Iterator[bool]:
    """One flag per row of the version's file, True for the held-out (validation) rows.

    A shape that names ``stratify_by`` (classification: the label) gets a split in proportion to that
    field, read in a first pass over the file (one short string per row); the others a streamed random one.
    """
    shape = shape_get(version.kind, version.shape)
    columns = version.column_mapping.get(shape.stratify_by or "", [])
    if not columns:
        return validation_flags(version.row_count, version.validation_count, version.split_seed)
    with closing(stored_rows(version)) as rows:
        labels = [row.get(columns[0], "").strip() for _, row in rows]
    return iter(stratified_validation_flags(labels, version.validation_count, version.split_seed))


def dataset_version_examples(
    version: DatasetVersion, *, kind: str | None = None, split: str | None = None
) -> Iterator[dict[str, Any]]:
    """Rows in the canonical field names of the version's kind; rows missing a required value are skipped.

    Passing ``kind`` checks that the version was mapped for that kind.
    """
    if kind is not None and kind != version.kind:
        raise ValueError(
            f"{version} is mapped for {_kind_words(version.kind)}, not {_kind_words(kind)}. Re-map it on its "
            "dataset page (“Use for another product kind”)."
        )
    shape = shape_get(version.kind, version.shape)
    yield from examples_from_rows(
        dataset_version_iter_rows(version, split=split), shape=shape, mapping=version.column_mapping
    )


@dataclass(frozen=True)
class PreviewPage:
    columns: list[str]
    rows: list[tuple[int, list[str]]]
    number: int
    pages: int

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages

    @property
    def previous(self) -> int:
        return self.number - 1

    @property
    def next(self) -> int:
        return self.number + 1


def dataset_file_preview(obj: StoredDatasetFile, *, page: int = 1) -> PreviewPage:
    """One page of rows (with their line numbers) for the preview table."""
    pages = max(1, math.ceil(obj.row_count / PREVIEW_ROWS))
    page = min(max(page, 1), pages)
    columns = obj.column_names
    start = (page - 1) * PREVIEW_ROWS
    with closing(stored_rows(obj)) as rows:
        chunk = list(islice(rows, start, start + PREVIEW_ROWS))
    return PreviewPage(columns, [(line, [row[c] for c in columns]) for line, row in chunk], page, pages)


def dataset_examples_preview(
    obj: StoredDatasetFile, *, shape: Shape, mapping: Mapping, limit: int = 3, scan: int = 500
) -> list[list[Block]]:
    """The first ``limit`` examples rendered as the model sees them (looking at most ``scan`` rows)."""
    rendered: list[list[Block]] = []
    with closing(stored_rows(obj)) as rows:
        for _, row in islice(rows, scan):
            example = example_from_row(row, shape=shape, mapping=mapping)
            if example is not None:
                rendered.append(example_render(example, shape=shape))
                if len(rendered) == limit:
                    break
    return rendered


def _kind_words(kind_id: str) -> str:
    """A kind in words (“Marketing copy”), as people read it; its id only if it is no longer installed."""
    from products.kinds import get_kind  # kinds read datasets' shapes: imported here, not at the top

    try:
        return f"“{get_kind(kind_id).name}”"
    except KeyError:
        return kind_id
