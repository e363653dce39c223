"""Writes from the Logs tab: correct an answer, and turn logged answers into a new dataset version."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import QuerySet

from products.datasets.export import jsonl_export
from products.datasets.requirements import shape_get
from products.datasets.seen import SeenRows
from products.datasets.selectors import dataset_version_iter_rows
from products.datasets.services import dataset_upload_create, dataset_version_create
from products.kinds import get_kind
from products.kinds.base import ProductKind
from products.logs.selectors import generation_correction_labels
from products.models import Dataset, DatasetUpload, DatasetVersion, FeedbackEvent, Generation, Product
from products.services import feedback_event_record

#: The longest correction a person may write (a long answer is a few thousand characters).
MAX_CORRECTION_CHARS = 10_000
#: A row whose answer or input has fewer visible characters than this teaches nothing: skipped.
MIN_CHARS = 2
NO_CORRECTION = "{kind} results cannot be corrected: what people click and buy is their feedback."
NO_TRAINING_ROWS = "{kind} logs cannot become training rows."


@transaction.atomic
def generation_correct(
    *, generation: Generation, user: AbstractBaseUser | None, text: str = "", label: str = ""
) -> FeedbackEvent:
    """Record what ``generation`` should have answered (text kinds) or its right label (classification).

    The generation keeps the latest correction (the Logs tab shows it; datasets learn it); every correction is
    also a FeedbackEvent, so the history stays. Raises ValidationError naming the field when it cannot.
    """
    kind = get_kind(generation.product.kind)
    if kind.correction == "label":
        labels = generation_correction_labels(generation=generation)
        label = (label or "").strip()
        if label not in labels:
            raise ValidationError({"label": f"Pick one of the labels: {', '.join(labels) or 'none known'}."})
        correction, value = label, {"label": label}
    elif kind.correction == "text":
        correction = (text or "").replace("\r\n", "\n").strip()
        if not correction:
            raise ValidationError({"text": "Write what the answer should have said."})
        if len(correction) > MAX_CORRECTION_CHARS:
            raise ValidationError({"text": f"The correction is {len(correction):,} characters; the limit is "
                                           f"{MAX_CORRECTION_CHARS:,}."})
        value = {"text": correction}
    else:
        raise ValidationError(NO_CORRECTION.format(kind=kind.name))
    generation.correction = correction
    generation.save(update_fields=["correction"])
    # Through the one writer of feedback events, so the release page and usage count the correction.
    return feedback_event_record(generation=generation, kind=FeedbackEvent.Kind.CORRECTION, value=value, user=user)


@dataclass(frozen=True)
class LogDatasetResult:
    """The dataset version made from logged answers, and how many answers were left out and why."""

    version: DatasetVersion
    added: int
    kept: int  # rows carried over from the dataset's previous version
    duplicates: int
    near_empty: int
    rated_bad: int

    def summary(self) -> str:
        skipped = [f"{count} {what}" for count, what in (
            (self.duplicates, "duplicate" if self.duplicates == 1 else "duplicates"),
            (self.near_empty, "empty or near-empty"),
            (self.rated_bad, "rated 👎 and not corrected"),
        ) if count]
        added = f"Added {self.added} logged {'answer' if self.added == 1 else 'answers'}"
        kept = f" to the {self.kept} rows of v{self.version.number - 1}" if self.kept else ""
        text = f"{added}{kept} as {self.version.dataset.name} v{self.version.number}."
        return text + (f" Skipped {', '.join(skipped)}." if skipped else " Nothing was skipped.")


def _visible(value: str) -> int:
    return len(re.sub(r"\s+", "", value))


def _seen_before(seen: SeenRows, row: dict[str, str], line: int) -> bool:
    """Whether a row reading the same was already kept: rows that differ only in case or spacing teach the same."""
    return seen.first_line([" ".join(value.split()).casefold() for value in row.values()], line) is not None


@dataclass
class _Counts:
    lines: int = 0
    added: int = 0
    kept: int = 0
    duplicates: int = 0
    near_empty: int = 0
    rated_bad: int = 0


def _previous_rows(previous: DatasetVersion, *, shape_id: str, mapping: dict[str, list[str]],
                   kind_id: str) -> Iterator[dict[str, str]]:
    """The previous version's rows under this layout's column names (refused when its layout differs)."""
    if (previous.kind, previous.shape) != (kind_id, shape_id):
        shape = shape_get(kind_id, shape_id)
        raise ValidationError({"dataset": f"{previous.dataset.name} v{previous.number} is not mapped as "
                                          f"“{shape.label}”. Add the answers to a new dataset instead."})
    shape = shape_get(kind_id, shape_id)
    for need in shape.needs:
        ours, theirs = mapping.get(need.name, []), previous.column_mapping.get(need.name, [])
        if need.multiple and sorted(ours) != sorted(theirs):
            raise ValidationError({"dataset": f"{previous.dataset.name} v{previous.number} has other "
                                              f"{need.label.lower()} columns ({', '.join(theirs)}) than this "
                                              f"product's inputs ({', '.join(ours)}). Add the answers to a new "
                                              "dataset instead."})
    for row in dataset_version_iter_rows(previous):
        out: dict[str, str] = {}
        for need in shape.needs:
            ours, theirs = mapping.get(need.name, []), previous.column_mapping.get(need.name, [])
            if need.multiple:
                out.update({column: row.get(column, "") for column in ours})
            elif ours:
                out[ours[0]] = row.get(theirs[0], "") if theirs else ""
        yield out


def _log_rows(*, kind: ProductKind, product: Product, generations: QuerySet[Generation], answer_column: str,
              seen: SeenRows, counts: _Counts) -> Iterator[dict[str, str]]:
    # One pass over the chosen generations (a primary key is one row of the queryset: each becomes a row at most
    # once), keeping the first of rows that read the same.
    # Oldest first: the dataset reads in the order things happened, and the first of two alike is the one kept.
    chosen = generations.order_by("pk").only("pk", "inputs", "result", "output", "correction", "feedback")
    for generation in chosen.iterator(chunk_size=2000):
        if not generation.correction and generation.feedback < 0:
            counts.rated_bad += 1
            continue
        answer = generation.correction or kind.log_answer(generation.result or {"text": generation.output})
        row = kind.log_training_row(product, generation.inputs or {}, answer.strip())
        asked = " ".join(value for column, value in row.items() if column != answer_column)
        if _visible(row[answer_column]) < MIN_CHARS or _visible(asked) < MIN_CHARS:
            counts.near_empty += 1
            continue
        counts.lines += 1
        if _seen_before(seen, row, counts.lines):
            counts.duplicates += 1
            continue
        counts.added += 1
        yield row


def _carried(rows: Iterable[dict[str, str]], seen: SeenRows, counts: _Counts) -> Iterator[dict[str, str]]:
    for row in rows:  # the previous version's rows stay as they are, duplicates and all: they were chosen before
        counts.lines += 1
        _seen_before(seen, row, counts.lines)
        counts.kept += 1
        yield row


def generation_dataset_export(
    *, product: Product, generations: QuerySet[Generation], user: AbstractBaseUser | None,
    dataset: Dataset | None = None, name: str = "",
) -> LogDatasetResult:
    """Turn logged answers into a new immutable dataset version in the kind's training shape.

    Each answer is its correction when it has one, else what it said; 👎 answers nobody corrected, empty or
    near-empty ones and duplicates (the same inputs and answer, ignoring case and spacing, within the new
    version) are skipped and counted. ``dataset`` None makes a new dataset called ``name``; an existing one gets
    a version holding its latest version's rows and then the new ones. The file goes through the same
    validation as an upload (its report is on the version's page). Raises ValidationError, leaving nothing.
    """
    kind = get_kind(product.kind)
    layout = kind.log_training_layout(product)
    if layout is None:
        raise ValidationError(NO_TRAINING_ROWS.format(kind=kind.name))
    shape_id, mapping, answer_column = layout.shape, layout.mapping, layout.answer_column
    if dataset is not None and dataset.team_id != product.team_id:
        raise ValueError("The dataset belongs to another team.")
    previous = dataset.versions.order_by("-number").first() if dataset is not None else None
    counts = _Counts()
    upload: DatasetUpload | None = None
    with tempfile.TemporaryFile() as target, SeenRows() as seen:
        carried = (_carried(_previous_rows(previous, shape_id=shape_id, mapping=mapping, kind_id=kind.id), seen,
                            counts) if previous is not None else iter(()))
        fresh = _log_rows(kind=kind, product=product, generations=generations, answer_column=answer_column,
                          seen=seen, counts=counts)
        for chunk in jsonl_export(_chain(carried, fresh)):
            target.write(chunk)
        if counts.added == 0:
            raise ValidationError(_nothing_added(counts))
        target.seek(0)
        try:
            with transaction.atomic():
                upload = dataset_upload_create(
                    team=product.team, user=user, file=File(target, name=f"{product.slug}-logs.jsonl"),
                    dataset=dataset, name=name,
                )
                version = dataset_version_create(
                    source=upload, user=user, kind=kind.id, shape=shape_id, column_mapping=mapping,
                    note=f"{counts.added} answers from the logs of {product.name}",
                )
        except BaseException:
            if upload is not None:  # the rollback removed the upload row; remove the file it named
                default_storage.delete(upload.file.name)
            raise
    return LogDatasetResult(version=version, added=counts.added, kept=counts.kept, duplicates=counts.duplicates,
                            near_empty=counts.near_empty, rated_bad=counts.rated_bad)


def _chain(*parts: Iterable[dict[str, str]]) -> Iterator[dict[str, str]]:
    for part in parts:
        yield from part


def _nothing_added(counts: _Counts) -> str:
    reasons = [f"{count} {what}" for count, what in (
        (counts.duplicates, "duplicates"), (counts.near_empty, "empty or near-empty"),
        (counts.rated_bad, "rated 👎 and not corrected"),
    ) if count]
    if not reasons:
        return "Nothing to add: no answers were chosen. Tick some answers, or pick a filter with 👍 or corrected ones."
    return f"Nothing to add: every chosen answer was skipped ({', '.join(reasons)})."
