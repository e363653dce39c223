"""Streaming readers: bytes → text lines → records → row dicts, with line numbers and bounded memory.

Every limit here exists so that one bad file cannot exhaust memory: a line, a field and a record
are each capped, and the file is read line by line, never whole.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

from products.datasets.formats import CSV, JSONL, SAVE_AS_UTF8, TXT, FileFormat
from products.datasets.issues import DatasetFileError, fatal

MAX_LINE_CHARS = 1_000_000
MAX_FIELD_CHARS = 1_000_000
MAX_RECORD_CHARS = 4_000_000
MAX_COLUMNS = 200
TXT_COLUMN = "text"

# The csv module's default (128 KiB) rejects long documents. The limit is process-wide, so it is only
# ever raised, never lowered; MAX_RECORD_CHARS below bounds memory whatever another module sets.
if csv.field_size_limit() < MAX_FIELD_CHARS:
    csv.field_size_limit(MAX_FIELD_CHARS)


#: Undecodable bytes, as the ``surrogateescape`` error handler keeps them (U+DC80–U+DCFF); valid UTF-8
#: never decodes to these, so one in a line means the line held bytes that are not UTF-8.
_ESCAPED = re.compile("[\udc80-\udcff]+")
#: Called with (line number, the line with its bad bytes escaped); returns the text to read instead.
Undecodable = Callable[[int, str], str]


def read_as_cp1252(line: str) -> str:
    """The line with each run of bytes that were not UTF-8 read as Windows-1252 (the rest stays as it was)."""
    return _ESCAPED.sub(lambda run: run.group().encode("utf-8", "surrogateescape").decode("cp1252", "replace"), line)


def text_lines(stream: BinaryIO, encoding: str, *, undecodable: Undecodable | None = None) -> Iterator[str]:
    """Decoded lines with universal newlines (\\n, \\r\\n, \\r); each ends with "\\n" except maybe the last.

    A UTF-8 line with bytes that are not UTF-8 goes to ``undecodable`` (which says what to read instead),
    so one pass can report every such line and still check the rest; without it the first one is an error.
    """
    stream.seek(0)
    utf8 = encoding.startswith("utf-8")
    text = io.TextIOWrapper(stream, encoding=encoding, errors="surrogateescape" if utf8 else "strict", newline=None)
    number = 0
    try:
        while True:
            try:
                line = text.readline(MAX_LINE_CHARS + 1)
            except UnicodeDecodeError:
                raise _encoding_error(encoding) from None
            if not line:
                return
            number += 1
            if len(line) > MAX_LINE_CHARS:
                raise fatal(
                    "line_too_long", "Line too long",
                    f"Line {number} is longer than {MAX_LINE_CHARS:,} characters.",
                    "Split very long texts into several rows. A file without line breaks is usually not a "
                    "CSV, JSONL or text file: check you exported the right format.",
                    line=number,
                )
            if "\x00" in line:
                raise fatal(
                    "nul_byte", "NUL byte in the text",
                    f"Line {number} contains a NUL byte (an invisible \\0 character), which usually means the "
                    "file is damaged or was exported in a binary format.",
                    "Export the file again as CSV UTF-8, or remove the \\0 characters with a text editor.",
                    line=number,
                )
            if utf8 and not line.isascii() and _ESCAPED.search(line):
                if undecodable is None:
                    raise _not_utf8(number, line)
                line = undecodable(number, line)
            yield line
    finally:
        if not stream.closed:
            text.detach()  # the caller owns the binary stream


def _encoding_error(encoding: str) -> DatasetFileError:
    label = encoding.upper()
    return fatal(
        "bad_encoding", f"Not valid {label} text",
        f"The file starts with a {label} byte-order mark but is not valid {label} text.", SAVE_AS_UTF8,
    )


def _not_utf8(number: int, line: str) -> DatasetFileError:
    bad = _ESCAPED.search(line)
    assert bad is not None
    raw = bad.group().encode("utf-8", "surrogateescape")[:4]
    return fatal(
        "bad_encoding", "Not UTF-8 text",
        f"Line {number} is not valid UTF-8: byte {' '.join(f'0x{b:02X}' for b in raw)} cannot be read. "
        f"The file was probably saved as Latin-1 / Windows-1252 (read that way, the line says "
        f"“{read_as_cp1252(line).strip()[:120]}”).",
        SAVE_AS_UTF8,
        line=number,
    )


class _RecordTooLong(Exception):
    pass


class _CountingLines:
    """Feeds the csv reader and stops a record from growing past MAX_RECORD_CHARS (e.g. a lost quote)."""

    __slots__ = ("lines", "chars")

    def __init__(self, lines: Iterator[str]) -> None:
        self.lines, self.chars = lines, 0

    def __iter__(self) -> _CountingLines:
        return self

    def __next__(self) -> str:
        line = next(self.lines)
        self.chars += len(line)
        if self.chars > MAX_RECORD_CHARS:
            raise _RecordTooLong
        return line


def _unclosed_quote(line: int) -> DatasetFileError:
    return fatal(
        "unterminated_quote", "Quote never closed",
        f'Line {line} opens a quote (") that is never closed, so everything after it would become one value.',
        f"Add the closing quote on line {line}. If the quote is part of the text, put the whole value in "
        'quotes and double the quote inside it, like "5"" screen".',
        line=line,
    )


def csv_records(lines: Iterator[str], delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """(line where the record starts, values) for every CSV record, header included."""
    counted = _CountingLines(lines)
    reader = csv.reader(counted, delimiter=delimiter, quotechar='"', doublequote=True, strict=True)
    while True:
        start = reader.line_num + 1
        counted.chars = 0
        try:
            values = next(reader)
        except StopIteration:
            return
        except _RecordTooLong:
            raise _unclosed_quote(start) from None
        except csv.Error as exc:
            message = str(exc)
            if "unexpected end of data" in message or ("field limit" in message and reader.line_num > start):
                raise _unclosed_quote(start) from None
            if "field limit" in message:
                raise fatal(
                    "field_too_long", "Value too long",
                    f"Line {start} has a value longer than {MAX_FIELD_CHARS:,} characters.",
                    "Split very long texts into several rows.", line=start,
                ) from None
            if "expected after" in message:
                raise fatal(
                    "stray_quote", "Text after a closing quote",
                    f'Line {reader.line_num} has text right after a closing quote, like "5" screen".',
                    'Put the whole value in quotes and double the quotes inside it: "5"" screen".',
                    line=reader.line_num,
                ) from None
            raise fatal(
                "csv_error", "Unreadable CSV", f"Line {reader.line_num} cannot be read as CSV ({message}).",
                "Open the file in a spreadsheet app and export it again as CSV UTF-8.", line=reader.line_num,
            ) from None
        yield start, values


def raw_records(
    stream: BinaryIO, fmt: FileFormat, *, undecodable: Undecodable | None = None
) -> Iterator[tuple[int, Any]]:
    """(line, record): a list of values for CSV (header first), the line's text for JSONL and TXT.

    Blank records at the very end of the file are dropped (a trailing newline is not an empty row);
    blank records elsewhere are kept and reported as empty rows.
    """
    lines = text_lines(stream, fmt.encoding, undecodable=undecodable)
    if fmt.format == CSV:
        records: Iterator[tuple[int, Any]] = csv_records(lines, fmt.delimiter)
    else:
        records = ((number, line.rstrip("\n")) for number, line in enumerate(lines, 1))
    blank_from, blanks = 0, 0
    for number, record in records:
        if (not record) if fmt.format == CSV else (not record.strip()):
            blank_from, blanks = (blank_from or number), blanks + 1
            continue
        for offset in range(blanks):
            yield blank_from + offset, ([] if fmt.format == CSV else "")
        blank_from, blanks = 0, 0
        yield number, record


def header_columns(values: list[str]) -> tuple[list[str], list[int]]:
    """Column names from a CSV header: trimmed, trailing unnamed ones dropped, inner ones named column_N.

    Returns the names and the 1-based positions that had no name.
    """
    names = [value.strip().lstrip("\ufeff").strip() for value in values]
    while names and not names[-1]:
        names.pop()
    unnamed = [index + 1 for index, name in enumerate(names) if not name]
    return [name or f"column_{index + 1}" for index, name in enumerate(names)], unnamed


def fit_row(values: list[str], width: int) -> list[str] | None:
    """The values of one row, or None when it has the wrong number of values.

    Extra values are tolerated only when empty (a trailing delimiter); a blank line is an empty row.
    """
    if len(values) == width:
        return values
    if not values:
        return [""] * width
    if len(values) > width and not "".join(values[width:]).strip():
        return values[:width]
    return None


def parse_json_line(text: str) -> dict[str, Any]:
    """One JSONL line as an object; ValueError says what is wrong, in words."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{exc.msg} (column {exc.colno})") from None
    if not isinstance(value, dict):
        kind = {list: "a list", str: "a string", bool: "true/false", type(None): "null"}.get(type(value), "a number")
        raise ValueError(f"it is {kind}, not an object")
    return value


def cell_text(value: Any) -> str:
    """A JSON value as the text of a cell: strings as they are, other values as compact JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, ensure_ascii=False)


def iter_rows(stream: BinaryIO, fmt: FileFormat, columns: list[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, {column: text}) for every row of a file that passed validation, empty rows included."""
    records = raw_records(stream, fmt)
    if fmt.format == CSV:
        next(records, None)  # the header
        width = len(columns)
        for number, values in records:
            fitted = fit_row(values, width)
            if fitted is None:
                raise fatal(
                    "ragged_rows", "Row length changed",
                    f"Line {number} no longer matches the header; the stored file changed after validation.",
                    "Upload the file again.", line=number,
                )
            yield number, dict(zip(columns, fitted, strict=True))
    elif fmt.format == JSONL:
        for number, text in records:
            obj = parse_json_line(text) if text.strip() else {}
            yield number, {column: cell_text(obj.get(column)) for column in columns}
    elif fmt.format == TXT:
        for number, text in records:
            yield number, {TXT_COLUMN: text}
    else:
        raise ValueError(f"Unknown dataset format {fmt.format!r}.")
