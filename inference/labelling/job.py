"""Labelling a file: a dataset version's texts → the classifier version's labels → one CSV in storage.

Two streaming passes over the stored file, so memory stays flat whatever its size: the first counts the
rows with text (the progress bar's end) and whether the file already carries labels; the second scores
``BATCH_TEXTS`` texts per forward pass and appends their rows to a temporary file, saving progress with
each batch while this worker still holds the lease. The CSV reaches storage only when every row is
labelled, so a worker lost half-way leaves nothing behind, and the next attempt labels from the start.
"""

from __future__ import annotations

import csv
import io
import logging
import tempfile
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice

from django.core.files import File
from django.db import transaction

from inference.jobs import job_finish, job_held, job_release
from inference.models import LabellingJob

logger = logging.getLogger(__name__)

#: Texts scored in one forward pass, and rows written with one progress update.
BATCH_TEXTS = 64


class LabellingError(ValueError):
    """A job that cannot run (no classifier, no text); the message says what to do."""


@dataclass(frozen=True)
class Text:
    row: int  # 1-based data row of the dataset file
    text: str
    label: str  # the label the file already gives it, or ""


def texts(dataset_version) -> Iterator[Text]:
    """The rows of ``dataset_version`` that have text, with their row number and any label they carry."""
    from products.datasets.mapping import example_from_row
    from products.datasets.requirements import shape_get
    from products.datasets.selectors import stored_rows

    shape = shape_get(dataset_version.kind, dataset_version.shape)
    for number, (_, row) in enumerate(stored_rows(dataset_version), 1):
        example = example_from_row(row, shape=shape, mapping=dataset_version.column_mapping)
        if example is not None and example.get("text"):
            yield Text(number, example["text"], example.get("label", ""))


def _artifact_of(job: LabellingJob) -> str:
    artifact = job.version.fine_tuned_artifact
    if artifact is None or artifact.kind != "classifier" or not artifact.directory.is_dir():
        raise LabellingError(f"Version {job.version.number} has no trained classifier to label with: train one, "
                             "make a version from the run, and label the file with that version.")
    return str(artifact.directory)


def labelling_job_run(*, job: LabellingJob, worker: str, lease_lost: threading.Event,
                      shutdown: threading.Event) -> None:
    """Label ``job``'s file (leased to ``worker``): progress as it goes, then the CSV and succeeded."""
    try:
        artifact = _artifact_of(job)
        total, has_labels = 0, False
        for text in texts(job.dataset_version):
            total += 1
            has_labels = has_labels or bool(text.label)
        if total == 0:
            raise LabellingError(f"{job.dataset_version} has no text to label: map the column that holds the "
                                 "messages on its dataset page, or upload a file with text in it.")
        with transaction.atomic():
            held = job_held(LabellingJob, job_id=job.pk, worker=worker)
            if held is None:
                return
            held.rows_total, held.rows_done, held.error = total, 0, ""
            held.save(update_fields=["rows_total", "rows_done", "error"])
        _label_and_store(job, artifact=artifact, has_labels=has_labels, total=total, worker=worker,
                         lease_lost=lease_lost, shutdown=shutdown)
    except LabellingError as exc:
        _fail(job, worker=worker, message=str(exc))
    except Exception as exc:
        logger.exception("Labelling job %s failed", job.pk)
        _fail(job, worker=worker, message=f"Labelling stopped on an unexpected error ({exc}). Start it again; if "
                                          "it fails the same way, tell your administrator.")


def _columns(labels: list[str], *, has_labels: bool) -> list[str]:
    compare = ["label in file", "agrees"] if has_labels else []
    return ["row", "text", "label", "confidence", "top label", *compare, *(f"p({label})" for label in labels)]


def _csv_rows(batch: list[Text], results: list[dict], *, has_labels: bool) -> Iterator[dict[str, str]]:
    for text, result in zip(batch, results, strict=True):
        row = {"row": str(text.row), "text": text.text, "label": result["label"],
               "confidence": f"{result['confidence']:.4f}", "top label": result["top_label"]}
        if has_labels:
            row["label in file"] = text.label
            row["agrees"] = ("yes" if text.label == result["top_label"] else "no") if text.label else ""
        row.update({f"p({label})": f"{p:.4f}" for label, p in result["probabilities"].items()})
        yield row


def _label_and_store(job: LabellingJob, *, artifact: str, has_labels: bool, total: int, worker: str,
                     lease_lost: threading.Event, shutdown: threading.Event) -> None:
    from inference.runners.classify import label_result, load, score, serving_precision
    from products.datasets.export import neutralise

    labels = load(artifact, serving_precision())[2].labels  # the model ``score`` then serves with
    unsure_below = float((job.version.kind_config or {}).get("unsure_below") or 0.0)
    columns = _columns(labels, has_labels=has_labels)
    counts: Counter[str] = Counter()
    done = compared = agreed = 0
    with tempfile.TemporaryFile() as out:
        text_out = io.TextIOWrapper(out, encoding="utf-8", newline="")
        writer = csv.writer(text_out)
        text_out.write("\ufeff")  # the BOM: spreadsheets then read the file as UTF-8
        writer.writerow(columns)
        stream = texts(job.dataset_version)
        while batch := list(islice(stream, BATCH_TEXTS)):
            if lease_lost.is_set():  # the job went back to the queue; whoever claims it labels from the start
                logger.warning("Labelling job %s: lease lost at row %s; stopping", job.pk, done)
                return
            if shutdown.is_set():
                job_release(LabellingJob, job_id=job.pk, worker=worker)
                logger.info("Labelling job %s given back at row %s (worker shutting down)", job.pk, done)
                return
            head_labels, probabilities = score(artifact, [text.text for text in batch])
            results = [label_result(head_labels, row, unsure_below=unsure_below) for row in probabilities]
            for row in _csv_rows(batch, results, has_labels=has_labels):
                writer.writerow([neutralise(row.get(column, "")) for column in columns])
            counts.update(result["label"] for result in results)
            labelled = [(text, result) for text, result in zip(batch, results, strict=True) if text.label]
            compared += len(labelled)
            agreed += sum(1 for text, result in labelled if text.label == result["top_label"])
            done += len(batch)
            with transaction.atomic():
                held = job_held(LabellingJob, job_id=job.pk, worker=worker)
                if held is None:
                    return
                held.rows_done = done
                held.save(update_fields=["rows_done"])
        if done != total:
            raise LabellingError(f"The dataset file changed while it was labelled ({done} of {total} rows); "
                                 "start the job again.")
        text_out.flush()
        text_out.detach()  # the temporary file stays open for storage to read
        out.seek(0)
        finished = job_finish(
            LabellingJob, job_id=job.pk, worker=worker, status=LabellingJob.Status.SUCCEEDED,
            before=lambda held: held.output.save(f"team-{held.team_id}/labelling-job-{held.pk}.csv", File(out),
                                                 save=False),
            label_counts=dict(counts.most_common()), compared=compared, agreed=agreed)
        if finished is None:
            return
    logger.info("Labelling job %s finished: %s rows", job.pk, total)


def _fail(job: LabellingJob, *, worker: str, message: str) -> None:
    job_finish(LabellingJob, job_id=job.pk, worker=worker, status=LabellingJob.Status.FAILED, error=message,
               rows_done=0)
