"""One-click clean-ups: drop duplicate rows, drop empty rows, trim whitespace; streamed into a new file."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from products.datasets.export import write_rows
from products.datasets.formats import JSONL, FileFormat
from products.datasets.reader import cell_text, iter_rows, parse_json_line, raw_records
from products.datasets.seen import SeenRows

DROP_DUPLICATES, DROP_EMPTY_ROWS, TRIM_WHITESPACE = "drop_duplicates", "drop_empty_rows", "trim_whitespace"
CLEANUPS = {
    DROP_DUPLICATES: "Drop duplicate rows (keep the first copy)",
    DROP_EMPTY_ROWS: "Drop empty rows",
    TRIM_WHITESPACE: "Trim spaces and line breaks around values",
}


@dataclass
class CleanupResult:
    rows: int = 0
    duplicates: int = 0
    empty: int = 0
    trimmed: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.duplicates or self.empty or self.trimmed)

    def describe(self) -> str:
        parts = []
        if self.duplicates:
            parts.append(f"dropped {self.duplicates:,} duplicate row{'s' * (self.duplicates != 1)}")
        if self.empty:
            parts.append(f"dropped {self.empty:,} empty row{'s' * (self.empty != 1)}")
        if self.trimmed:
            parts.append(f"trimmed {self.trimmed:,} value{'s' * (self.trimmed != 1)}")
        return ", ".join(parts)


def clean_file(
    source: BinaryIO, target: BinaryIO, *, fmt: FileFormat, columns: list[str], actions: Iterable[str]
) -> CleanupResult:
    """Stream ``source`` into ``target`` (same format; CSV becomes comma-separated UTF-8) with the actions applied."""
    actions = set(actions)
    unknown = actions - set(CLEANUPS)
    if unknown:
        raise ValueError(f"Unknown clean-up {sorted(unknown)[0]!r}; choose from {', '.join(CLEANUPS)}.")
    result = CleanupResult()
    trim, drop_empty, drop_duplicates = (a in actions for a in (TRIM_WHITESPACE, DROP_EMPTY_ROWS, DROP_DUPLICATES))

    def kept(rows: Iterator[tuple[dict[str, Any], list[str]]], seen: SeenRows) -> Iterator[dict[str, Any]]:
        for number, (row, values) in enumerate(rows, 1):
            if trim:
                for key, value in row.items():
                    if isinstance(value, str) and value != value.strip():
                        row[key] = value.strip()
                        result.trimmed += 1
                values = [value.strip() for value in values]
            if not any(value.strip() for value in values):
                if drop_empty:
                    result.empty += 1
                    continue
            elif drop_duplicates and seen.first_line(values, number) is not None:
                result.duplicates += 1
                continue
            result.rows += 1
            yield row

    with SeenRows() as seen:
        if fmt.format == JSONL:
            objects = (parse_json_line(text) if text.strip() else {} for _, text in raw_records(source, fmt))
            pairs = ((obj, [cell_text(obj.get(column)) for column in columns]) for obj in objects)
        else:
            pairs = ((row, list(row.values())) for _, row in iter_rows(source, fmt, columns))
        write_rows(target, kept(pairs, seen), fmt=fmt.format, columns=columns)
    return result
