"""Downloads: CSV that spreadsheets cannot execute, and JSON Lines."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator

#: A spreadsheet runs a cell starting with these as a formula (OWASP "CSV injection"); the full-width
#: forms are included because some spreadsheet apps normalise them to the ASCII ones.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
CHUNK_CHARS = 64 * 1024


def neutralise(value: str) -> str:
    """Prefix a formula-like cell with ' so spreadsheets show it as text instead of running it."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


class _Echo:
    def write(self, value: str) -> str:
        return value


def _chunked(pieces: Iterable[str]) -> Iterator[bytes]:
    buffer: list[str] = []
    size = 0
    for piece in pieces:
        buffer.append(piece)
        size += len(piece)
        if size >= CHUNK_CHARS:
            yield "".join(buffer).encode("utf-8")
            buffer, size = [], 0
    if buffer:
        yield "".join(buffer).encode("utf-8")


def csv_export(rows: Iterable[dict[str, str]], columns: list[str]) -> Iterator[bytes]:
    """UTF-8 CSV with a BOM (so Excel picks the encoding) in ~64 KB chunks, every cell neutralised."""
    writer = csv.writer(_Echo())

    def pieces() -> Iterator[str]:
        yield "\ufeff" + writer.writerow([neutralise(column) for column in columns])
        for row in rows:
            yield writer.writerow([neutralise(row.get(column, "")) for column in columns])

    return _chunked(pieces())


def jsonl_export(rows: Iterable[dict[str, str]]) -> Iterator[bytes]:
    return _chunked(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)

