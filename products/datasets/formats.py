"""Recognise what an uploaded file is (CSV, JSONL or text; which encoding; which delimiter) from a sample.

Only the first ``SAMPLE_BYTES`` are read here; everything else streams in ``reader``.
"""

from __future__ import annotations

import codecs
import csv
from dataclasses import dataclass
from pathlib import PurePath
from typing import BinaryIO

from products.datasets.issues import fatal

SAMPLE_BYTES = 64 * 1024
#: Delimiters csv.Sniffer may choose from: comma, semicolon (European Excel), tab and pipe.
DELIMITERS = ",;\t|"
CSV, JSONL, TXT = "csv", "jsonl", "txt"

SAVE_AS_CSV = (
    "In your spreadsheet app choose File › Save As (or Download) › “CSV UTF-8”, then upload the .csv file."
)
SAVE_AS_UTF8 = (
    "Save it as UTF-8 (Excel: File › Save As › “CSV UTF-8”; Notepad or TextEdit: Save As › Encoding › UTF-8) "
    "and upload it again."
)
EXTENSIONS = {
    ".csv": CSV, ".tsv": CSV, ".tab": CSV,
    ".jsonl": JSONL, ".ndjson": JSONL, ".json": JSONL,
    ".txt": TXT, ".text": TXT,
}
SPREADSHEET_EXTENSIONS = {".xlsx", ".xls", ".xlsm", ".ods", ".numbers"}
BOMS = (  # longest first: the UTF-32 LE mark starts with the UTF-16 LE one
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)
MAGIC = (
    (b"PK\x03\x04", "a ZIP archive (an Excel, Numbers or Word document is one)", True),
    (b"\xd0\xcf\x11\xe0", "an old-style Excel or Word document (.xls/.doc)", True),
    (b"%PDF", "a PDF document", False),
    (b"\x1f\x8b", "a gzip-compressed archive", False),
    (b"\x89PNG", "a PNG image", False),
    (b"\xff\xd8\xff", "a JPEG image", False),
    (b"GIF8", "a GIF image", False),
    (b"SQLite format 3\x00", "an SQLite database", False),
    (b"PAR1", "a Parquet file", False),
)
# Bytes that never appear in text: C0 controls except tab, newline, carriage return.
_CONTROL = bytes([*range(0, 9), 11, 12, *range(14, 32)])
_NOT_CONTROL = bytes(b for b in range(256) if b not in _CONTROL)
UPLOAD_HINT = "Upload a CSV, JSONL (one JSON object per line) or plain-text file."


@dataclass(frozen=True)
class FileFormat:
    """How to read a file: its format, the Python codec of its encoding and, for CSV, the delimiter."""

    format: str
    encoding: str = "utf-8"
    delimiter: str = ""

    @property
    def delimiter_label(self) -> str:
        return {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}.get(self.delimiter, self.delimiter)


def detect_format(stream: BinaryIO, *, filename: str) -> FileFormat:
    """Read a sample and say how to read the file, or raise DatasetFileError with the fix."""
    suffix = PurePath(filename or "").suffix.lower()
    if suffix in SPREADSHEET_EXTENSIONS:
        raise fatal(
            "spreadsheet", "Spreadsheet workbook",
            f"This is a spreadsheet workbook ({suffix}); we read the text formats spreadsheets export.",
            SAVE_AS_CSV,
        )
    stream.seek(0)
    sample = stream.read(SAMPLE_BYTES)
    stream.seek(0)
    if not sample:
        raise fatal(
            "empty_file", "Empty file", "The file is empty (0 bytes).", "Check you chose the right file. " + UPLOAD_HINT
        )
    encoding = next((name for bom, name in BOMS if sample.startswith(bom)), None)
    if encoding is None:
        _reject_non_text(sample)
        encoding = "utf-8"
    text = sample.decode(encoding, errors="replace").lstrip("\ufeff")
    if not text.strip():
        raise fatal(
            "empty_file", "Empty file", "The file contains only blank lines or spaces.",
            "Check you chose the right file. " + UPLOAD_HINT,
        )
    if len(sample) == SAMPLE_BYTES:  # the sample may stop mid-line: sniff complete lines only
        text = text[: text.rfind("\n") + 1] or text
    head = text.lstrip()
    fmt = EXTENSIONS.get(suffix)
    if fmt is None:  # no or unknown extension: go by the content
        fmt = JSONL if head.startswith(("{", "[")) else CSV
    if fmt == JSONL and head.startswith("["):
        raise fatal(
            "json_array", "One JSON array, not JSON Lines",
            "This file is a single JSON array; we read JSON Lines: one JSON object per line.",
            'Write each example on its own line, like {"question": "…", "answer": "…"}, and save it as .jsonl.',
        )
    if fmt != CSV:
        return FileFormat(fmt, encoding)
    delimiter = "\t" if suffix in {".tsv", ".tab"} else sniff_delimiter(text)
    return FileFormat(CSV, encoding, delimiter)


def sniff_delimiter(text: str) -> str:
    """csv.Sniffer on the first lines, checked against the header; a comma when there is one column."""
    lines = text.splitlines()[:50]
    header = lines[0] if lines else ""
    try:
        delimiter = csv.Sniffer().sniff("\n".join(lines), delimiters=DELIMITERS).delimiter
    except csv.Error:
        delimiter = ""
    if len(delimiter) != 1 or delimiter not in DELIMITERS or delimiter not in header:
        counts = {candidate: header.count(candidate) for candidate in DELIMITERS}
        best = max(counts, key=counts.__getitem__)
        delimiter = best if counts[best] else ","
    return delimiter


def _reject_non_text(sample: bytes) -> None:
    for magic, what, spreadsheet in MAGIC:
        if sample.startswith(magic):
            raise fatal(
                "binary", "Not a text file", f"This file is {what}, not a text file.",
                SAVE_AS_CSV if spreadsheet else UPLOAD_HINT,
            )
    utf16 = _utf16_without_bom(sample[:4096])
    if utf16:
        raise fatal(
            "utf16_without_bom", "UTF-16 without a byte-order mark",
            f"This file looks like UTF-16 ({utf16}) text without the byte-order mark that says so, "
            "so it cannot be read reliably.",
            SAVE_AS_UTF8,
        )
    controls = len(sample.translate(None, _NOT_CONTROL))
    ratio = controls / len(sample)
    if ratio > 0.30 or (ratio > 0.05 and not _is_utf8(sample)):
        raise fatal(
            "binary", "Not a text file",
            "This file contains binary data (unreadable control bytes), so it is not a CSV, JSONL or text file.",
            "Check you chose the right file. " + UPLOAD_HINT,
        )


def _utf16_without_bom(head: bytes) -> str:
    pairs = len(head) // 2
    if pairs < 2:
        return ""
    even_nul, odd_nul = head[0 : pairs * 2 : 2].count(0), head[1 : pairs * 2 : 2].count(0)
    if odd_nul >= 0.4 * pairs and even_nul <= 0.05 * pairs:
        return "little-endian"
    if even_nul >= 0.4 * pairs and odd_nul <= 0.05 * pairs:
        return "big-endian"
    return ""


def _is_utf8(sample: bytes) -> bool:
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)  # a cut-off last character is fine
    except UnicodeDecodeError:
        return False
    return True
