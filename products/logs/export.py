"""Logs as CSV (formula-safe, for spreadsheets) or JSON Lines, streamed: rows are read in chunks, never all at once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.db import close_old_connections, connection, transaction
from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone

from products.datasets.export import csv_export, jsonl_export
from products.models import Generation, Product

FORMATS = ("csv", "jsonl")
#: Rows fetched from the database per round trip while streaming.
CHUNK_ROWS = 2000
CSV_COLUMNS = [
    "id", "created_at", "version", "channel", "status", "inputs", "output", "correction", "feedback",
    "tokens_in", "tokens_out", "time_to_first_token_ms", "duration_ms", "finish_reason", "error",
]
FEEDBACK_WORDS = {1: "good", -1: "bad", 0: ""}
_FIELDS = ("pk", "created_at", "version__number", "channel", "status", "inputs", "output", "result", "correction",
           "feedback", "tokens_in", "tokens_out", "time_to_first_token_ms", "duration_ms", "finish_reason", "error")


def _records(generations: QuerySet[Generation]) -> Iterator[dict[str, Any]]:
    # values() and a server-side cursor: each chunk of rows is read, written out and forgotten. In a transaction,
    # so PostgreSQL streams the cursor instead of materialising every row first (a WITH HOLD cursor would).
    with transaction.atomic():
        for row in generations.values_list(*_FIELDS).iterator(chunk_size=CHUNK_ROWS):
            record = dict(zip(_FIELDS, row, strict=True))
            record["id"] = record.pop("pk")
            record["version"] = record.pop("version__number")
            record["created_at"] = record["created_at"].isoformat()
            yield record


def _csv_rows(records: Iterator[dict[str, Any]]) -> Iterator[dict[str, str]]:
    for record in records:
        record["inputs"] = json.dumps(record["inputs"], ensure_ascii=False)
        record["feedback"] = FEEDBACK_WORDS.get(record["feedback"], "")  # words: a "-1" cell would read as a formula
        yield {column: "" if record.get(column) is None else str(record[column]) for column in CSV_COLUMNS}


def generation_export_chunks(generations: QuerySet[Generation], *, fmt: str) -> Iterator[bytes]:
    """The generations as UTF-8 CSV (cells neutralised so spreadsheets run no formula) or JSON Lines (whole rows:
    inputs and result as objects), in ~64 KB chunks."""
    if fmt == "csv":
        return csv_export(_csv_rows(_records(generations)), CSV_COLUMNS)
    if fmt == "jsonl":
        return jsonl_export(_records(generations))
    raise ValueError(f"Export format is csv or jsonl, not {fmt!r}.")


async def _in_own_thread(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """Step a database-reading iterator from one thread of its own: the same connection (and cursor) throughout,
    closed at the end, without holding up the thread every other request's sync code shares."""
    loop = asyncio.get_running_loop()
    done = object()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="logs-export") as executor:
        try:
            while (chunk := await loop.run_in_executor(executor, next, chunks, done)) is not done:
                yield chunk
        finally:
            await loop.run_in_executor(executor, _close, chunks)


def _close(chunks: Iterator[bytes]) -> None:
    close = getattr(chunks, "close", None)
    if close is not None:
        close()  # ends the transaction of an export stopped half-way
    connection.close()
    close_old_connections()


def export_filename(product: Product) -> str:
    """The download's name without its extension: the product and when, e.g. ``faq-bot-logs-20260131-0915``."""
    return f"{product.slug}-logs-{timezone.now():%Y%m%d-%H%M}"


def export_response(generations: QuerySet[Generation], *, fmt: str, filename: str, asgi: bool) -> StreamingHttpResponse:
    """A streamed attachment of ``generations``; under ASGI stepped in a thread (a sync iterator would be read
    whole into memory first)."""
    chunks = generation_export_chunks(generations, fmt=fmt)
    content_type = "text/csv; charset=utf-8" if fmt == "csv" else "application/x-ndjson; charset=utf-8"
    response = StreamingHttpResponse(_in_own_thread(chunks) if asgi else chunks, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
