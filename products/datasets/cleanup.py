"""One-click fixes and clean-ups, streamed from a stored file into a new one (the source never changes).

Fixes for files that cannot be used yet: read the lines that are not UTF-8 as Windows-1252, skip the
rows with the wrong number of values (or JSON Lines that are not objects). Clean-ups for usable files:
drop duplicate rows, drop empty rows, trim whitespace, clean formula cells. The output is UTF-8 (CSV
comma-separated); a row no chosen action touches is written back with the same values.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from products.datasets.formats import CSV, JSONL, FileFormat
from products.datasets.formulas import formula_cleaned
from products.datasets.issues import MAX_WHERE
from products.datasets.reader import cell_text, fit_row, parse_json_line, raw_records, read_as_cp1252
from products.datasets.seen import SeenRows

READ_AS_WINDOWS_1252, SKIP_BAD_ROWS = "read_as_windows_1252", "skip_bad_rows"
DROP_DUPLICATES, DROP_EMPTY_ROWS, TRIM_WHITESPACE = "drop_duplicates", "drop_empty_rows", "trim_whitespace"
CLEAN_FORMULAS = "clean_formulas"
CLEANUPS = {
    READ_AS_WINDOWS_1252: "Read the lines that are not UTF-8 as Windows-1252",
    SKIP_BAD_ROWS: "Skip the rows that cannot be read",
    DROP_DUPLICATES: "Drop duplicate rows (keep the first copy)",
    DROP_EMPTY_ROWS: "Drop empty rows",
    TRIM_WHITESPACE: "Trim spaces and line breaks around values",
    CLEAN_FORMULAS: "Remove the =, +, - or @ at the start of formula-like cells",
}
#: The clean-ups a usable version offers (the first two only ever apply to an upload that cannot be used yet).
VERSION_CLEANUPS = (DROP_DUPLICATES, DROP_EMPTY_ROWS, TRIM_WHITESPACE, CLEAN_FORMULAS)


@dataclass
class CleanupResult:
    rows: int = 0
    decoded: int = 0
    skipped: int = 0
    duplicates: int = 0
    empty: int = 0
    trimmed: int = 0
    formulas: int = 0
    dropped: int = 0
    dropped_why: str = ""
    skipped_lines: list[int] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.decoded or self.skipped or self.duplicates or self.empty or self.trimmed or self.formulas
                    or self.dropped)

    def describe(self) -> str:
        def count(n: int, word: str) -> str:
            return f"{n:,} {word}{'s' * (n != 1)}"

        parts = []
        if self.decoded:
            parts.append(f"read {count(self.decoded, 'line')} as Windows-1252")
        if self.skipped:
            lines = ", ".join(map(str, self.skipped_lines)) + (" …" if self.skipped > len(self.skipped_lines) else "")
            parts.append(f"skipped {count(self.skipped, 'unreadable row')} (line{'s' * (self.skipped != 1)} {lines})")
        if self.duplicates:
            parts.append(f"dropped {count(self.duplicates, 'duplicate row')}")
        if self.empty:
            parts.append(f"dropped {count(self.empty, 'empty row')}")
        if self.trimmed:
            parts.append(f"trimmed {count(self.trimmed, 'value')}")
        if self.formulas:
            parts.append(f"cleaned {count(self.formulas, 'formula cell')}")
        if self.dropped:
            parts.append(f"dropped {count(self.dropped, 'row')} {self.dropped_why}".strip())
        return ", ".join(parts)

    def skip(self, line: int) -> None:
        self.skipped += 1
        if len(self.skipped_lines) < MAX_WHERE:
            self.skipped_lines.append(line)


def clean_file(
    source: BinaryIO, target: BinaryIO, *, fmt: FileFormat, columns: list[str], actions: Iterable[str],
    drop_lines: Collection[int] = (), drop_why: str = "",
) -> CleanupResult:
    """Stream ``source`` into ``target`` (same format, UTF-8; CSV comma-separated) with the actions applied.

    ``drop_lines``: rows to leave out by their line number (a check that needs another file found them),
    counted in the result as ``dropped`` rows ``drop_why``.

    Without READ_AS_WINDOWS_1252 a line that is not UTF-8 is an error (DatasetFileError); without
    SKIP_BAD_ROWS a row that cannot be read is written back as it was, for the next report to show again.
    """
    actions = set(actions)
    unknown = actions - set(CLEANUPS)
    if unknown:
        raise ValueError(f"Unknown clean-up {sorted(unknown)[0]!r}; choose from {', '.join(CLEANUPS)}.")
    result = CleanupResult(dropped_why=drop_why)
    drop_lines = frozenset(drop_lines)
    trim, drop_empty, drop_duplicates, formulas, skip_bad = (
        a in actions for a in (TRIM_WHITESPACE, DROP_EMPTY_ROWS, DROP_DUPLICATES, CLEAN_FORMULAS, SKIP_BAD_ROWS)
    )

    def decode(number: int, line: str) -> str:
        result.decoded += 1
        return read_as_cp1252(line)

    def cleaned(value: str) -> str:
        new = value.strip() if trim else value
        result.trimmed += new != value
        if formulas:
            fixed = formula_cleaned(new)
            result.formulas += fixed != new
            new = fixed
        return new

    def keep(line: int, values: list[str], seen: SeenRows) -> bool:
        if line in drop_lines:
            result.dropped += 1
            return False
        if not any(value.strip() for value in values):
            if drop_empty:
                result.empty += 1
                return False
        elif drop_duplicates and seen.first_line(values, line) is not None:
            result.duplicates += 1
            return False
        result.rows += 1
        return True

    records = raw_records(source, fmt, undecodable=decode if READ_AS_WINDOWS_1252 in actions else None)
    text = io.TextIOWrapper(target, encoding="utf-8", newline="")
    try:
        with SeenRows() as seen:
            if fmt.format == CSV:
                writer = csv.writer(text)
                next(records, None)  # the header: written from the known column names
                writer.writerow(columns)
                for line, values in records:
                    fitted = fit_row(values, len(columns))
                    if fitted is None:
                        if skip_bad:
                            result.skip(line)
                        else:
                            writer.writerow(values)
                        continue
                    fitted = [cleaned(value) for value in fitted]
                    if keep(line, fitted, seen):
                        writer.writerow(fitted)
            elif fmt.format == JSONL:
                for line, raw in records:
                    try:
                        obj: dict[str, Any] = parse_json_line(raw) if raw.strip() else {}
                    except ValueError:
                        if skip_bad:
                            result.skip(line)
                        else:
                            text.write(raw + "\n")
                        continue
                    obj = {key: cleaned(value) if isinstance(value, str) else value for key, value in obj.items()}
                    if keep(line, [cell_text(obj.get(column)) for column in columns], seen):
                        text.write(json.dumps(obj, ensure_ascii=False) + "\n")
            else:
                for line, raw in records:
                    value = cleaned(raw)
                    if keep(line, [value], seen):
                        text.write(value.replace("\r", " ").replace("\n", " ") + "\n")
    finally:
        text.flush()
        text.detach()
    return result

