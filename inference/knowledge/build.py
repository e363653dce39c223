"""Building a knowledge index: the dataset version's rows → passages → chunks → MiniLM embeddings → rows.

Two streaming passes over the stored file, so memory stays bounded whatever its size: the first chunks
every passage to count them (``chunks_total``, the progress bar's end) and to refuse a dataset with no
passage text or with binary junk before anything is written; the second chunks again, embeds a batch at a
time and stores each batch with ``chunks_done`` in one transaction.

Idempotent on retry: a build always starts by deleting the chunks an earlier attempt left (a worker
killed mid-build), and every batch is written only while this worker still holds the lease (the job row
is locked for the write), so a worker that lost its lease can never add a second set next to the new
attempt's. Re-building from scratch instead of resuming costs seconds at our sizes and has one path.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from inference.jobs import job_finish, job_held, job_release
from inference.knowledge.chunking import chunk_text, looks_like_text, minilm_token_counter
from inference.models import KnowledgeChunk, KnowledgeIndex

logger = logging.getLogger(__name__)

#: Chunks embedded and written together: one transaction and one progress update each.
WRITE_BATCH = 64
TITLE_CHARS = KnowledgeChunk._meta.get_field("title").max_length


class KnowledgeBuildError(ValueError):
    """A dataset that cannot become a knowledge base; the message says why and what to do."""


@dataclass(frozen=True)
class Passage:
    source_row: int  # 1-based data row of the dataset file
    title: str
    text: str


@dataclass(frozen=True)
class Chunk:
    source_row: int
    title: str
    text: str

    @property
    def embedding_text(self) -> str:
        """What MiniLM reads: the title (a heading, or an FAQ's question) is part of what a chunk is about."""
        if self.title and not self.text.startswith(self.title):
            return f"{self.title}\n{self.text}"
        return self.text


def passages(version) -> Iterator[Passage]:
    """The passages of a Q&A dataset version: documents as they are (title optional), FAQ pairs as
    "question\\nanswer" titled by the question. Empty rows are skipped; a row of binary junk stops the build."""
    from products.datasets.mapping import example_from_row
    from products.datasets.requirements import shape_get
    from products.datasets.selectors import stored_rows

    if version.kind != "qa" or version.shape not in ("documents", "pairs"):
        raise KnowledgeBuildError(
            f"{version} is not mapped as Q&A documents or question → answer pairs; re-map it on its dataset page."
        )
    shape = shape_get(version.kind, version.shape)
    for number, (_, row) in enumerate(stored_rows(version), 1):
        example = example_from_row(row, shape=shape, mapping=version.column_mapping)
        if example is None:
            continue
        if version.shape == "pairs":
            title, text = example["question"], f"{example['question']}\n{example['answer']}"
        else:
            title, text = example.get("title", ""), example["document"]
        if not looks_like_text(text) or not looks_like_text(title):
            raise KnowledgeBuildError(
                f"Row {number} does not look like text (it is mostly unreadable characters or one long run "
                "without spaces, like a file exported in a binary format). Remove that row, or export the "
                "documents as plain text, and upload a new version."
            )
        yield Passage(number, " ".join(title.split())[:TITLE_CHARS], text)


def chunks(version, *, models_dir=None) -> Iterator[Chunk]:
    """Every chunk of the version, in order (the ``position`` of each is its place in this stream)."""
    count, offsets = minilm_token_counter(models_dir or settings.MODELS_DIR)
    for passage in passages(version):
        for text in chunk_text(passage.text, count=count, offsets=offsets):
            yield Chunk(passage.source_row, passage.title, text)


def _no_text_message(version) -> str:
    columns = ", ".join(f"“{c}”" for cs in version.column_mapping.values() for c in cs) or "the mapped columns"
    return (f"{version} has no passage text to index: every row's {columns} is empty. Map the column that holds "
            "the text on its dataset page, or upload a file with text in it.")


def knowledge_index_build(*, index: KnowledgeIndex, worker: str, lease_lost: threading.Event,
                          shutdown: threading.Event) -> None:
    """Build ``index`` (leased to ``worker``): chunks with embeddings, progress as it goes, then succeeded.

    A dataset that cannot be indexed fails the job with a message its owner can act on, leaving no chunks.
    """
    version = index.dataset_version
    try:
        total = sum(1 for _ in chunks(version))
        if total == 0:
            raise KnowledgeBuildError(_no_text_message(version))
        with transaction.atomic():
            held = job_held(KnowledgeIndex, job_id=index.pk, worker=worker)
            if held is None:
                return
            KnowledgeChunk.objects.filter(index=held).delete()  # an earlier attempt's partial set
            held.chunks_total, held.chunks_done, held.error = total, 0, ""
            held.save(update_fields=["chunks_total", "chunks_done", "error"])
        _embed_and_store(index, worker=worker, lease_lost=lease_lost, shutdown=shutdown, total=total)
    except KnowledgeBuildError as exc:
        _fail(index, worker=worker, message=str(exc))
    except Exception as exc:
        logger.exception("Knowledge index %s failed", index.pk)
        _fail(index, worker=worker, message=f"Indexing stopped on an unexpected error ({exc}). Ask for the "
                                             "index again; if it fails the same way, tell your administrator.")


def _embed_and_store(index: KnowledgeIndex, *, worker: str, lease_lost: threading.Event,
                     shutdown: threading.Event, total: int) -> None:
    from inference.knowledge.embedder import embed, to_bytes

    stream = chunks(index.dataset_version)
    position = 0
    while batch := list(islice(stream, WRITE_BATCH)):
        if lease_lost.is_set():  # the job went back to the queue; whoever claims it rebuilds
            logger.warning("Knowledge index %s: lease lost at chunk %s; stopping", index.pk, position)
            return
        if shutdown.is_set():
            job_release(KnowledgeIndex, job_id=index.pk, worker=worker)
            logger.info("Knowledge index %s given back at chunk %s (worker shutting down)", index.pk, position)
            return
        vectors = embed([c.embedding_text for c in batch])
        rows = [
            KnowledgeChunk(index_id=index.pk, position=position + i, title=c.title, text=c.text,
                           source_row=c.source_row, embedding=to_bytes(vector))
            for i, (c, vector) in enumerate(zip(batch, vectors, strict=True))
        ]
        with transaction.atomic():
            # The row lock orders this write against a sweep and a new claim: once the job is someone
            # else's, nothing of this attempt is written any more.
            held = job_held(KnowledgeIndex, job_id=index.pk, worker=worker)
            if held is None:
                return
            KnowledgeChunk.objects.bulk_create(rows)
            position += len(rows)
            held.chunks_done = position
            held.save(update_fields=["chunks_done"])
    if position != total:  # the file changed between the passes: refuse rather than serve a half index
        raise KnowledgeBuildError(f"The dataset file changed while it was indexed ({position} of {total} "
                                  "chunks); ask for the index again.")
    now = timezone.now()
    if job_finish(KnowledgeIndex, job_id=index.pk, worker=worker, status=KnowledgeIndex.Status.SUCCEEDED,
                  finished_at=now, built_at=now) is None:
        return
    logger.info("Knowledge index %s built: %s chunks", index.pk, total)


def _fail(index: KnowledgeIndex, *, worker: str, message: str) -> None:
    job_finish(KnowledgeIndex, job_id=index.pk, worker=worker, status=KnowledgeIndex.Status.FAILED, error=message,
               before=lambda held: KnowledgeChunk.objects.filter(index=held).delete(),  # nothing half-indexed
               chunks_done=0)
