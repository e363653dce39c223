"""The dataset doctor: one streaming pass that reads every row and writes a report a person can act on.

The report is plain JSON (stored on uploads and versions):

    {"verdict": "ready" | "warnings" | "unusable", "format": ..., "encoding": ..., "delimiter": ...,
     "row_count": int, "usable_rows": int, "empty_rows": int, "duplicate_rows": int,
     "columns": [{"name", "type", "type_label", "filled", "empty", "max_chars"}],
     "issues": [{"code", "severity", "title", "detail", "fix", "count", "where": [{"line", "note"}]}],
     "counts": {"error": int, "warning": int, "info": int}, "tokens": {...} | None}

Memory stays flat: per-column counters, at most MAX_WHERE line numbers per issue, and row digests
that spill to disk (``seen.SeenRows``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from products.datasets.cleanup import (
    CLEAN_FORMULAS,
    DROP_DUPLICATES,
    DROP_EMPTY_ROWS,
    READ_AS_WINDOWS_1252,
    SKIP_BAD_ROWS,
    TRIM_WHITESPACE,
)
from products.datasets.formats import CSV, DELIMITERS, JSONL, SAVE_AS_UTF8, FileFormat, detect_format
from products.datasets.formulas import NUMBER, formula_like
from products.datasets.issues import ERROR, INFO, WARNING, DatasetFileError, Issue
from products.datasets.reader import (
    MAX_COLUMNS,
    TXT_COLUMN,
    cell_text,
    fit_row,
    header_columns,
    parse_json_line,
    raw_records,
    read_as_cp1252,
)
from products.datasets.seen import SeenRows
from products.datasets.tokens import LONG_TEXT_TOKENS, TokenCounter

READY, WARNINGS, UNUSABLE = "ready", "warnings", "unusable"
VERDICT_LABELS = {READY: "Ready", WARNINGS: "Ready with warnings", UNUSABLE: "Cannot be used"}
FEW_ROWS = 20
TYPE_LABELS = {
    "empty": "empty", "integer": "whole number", "number": "number", "boolean": "yes/no", "text": "text",
    "json": "JSON",
}
FORMAT_LABELS = {"csv": "CSV", "jsonl": "JSON Lines", "txt": "Plain text"}
ENCODING_LABELS = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8 with BOM", "utf-16": "UTF-16", "utf-32": "UTF-32"}
_INTEGER = re.compile(r"[+-]?\d+")

_BOOLEANS = frozenset({"true", "false", "yes", "no"})


#: Errors a button can fix (each makes a fixed copy); a file whose only errors are these is kept for fixing.
FIXABLE = frozenset({"bad_encoding", "ragged_rows", "invalid_json"})


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    return f"{count:,} {singular if count == 1 else (plural_form or singular + 's')}"


def lines_phrase(issue: Issue) -> str:
    """'line 4', 'lines 4 and 9', 'lines 4, 9, 12 and 30 more' from an issue's recorded lines."""
    numbers = [str(where["line"]) for where in issue.where]
    more = issue.count - len(numbers)
    if more:
        return f"lines {', '.join(numbers)} and {more:,} more"
    if len(numbers) == 1:
        return f"line {numbers[0]}"
    return f"lines {', '.join(numbers[:-1])} and {numbers[-1]}"


def _value_type(value: str) -> str:
    if _INTEGER.fullmatch(value):
        return "integer"
    if NUMBER.fullmatch(value):
        return "number"
    if value.lower() in _BOOLEANS:
        return "boolean"
    return "text"


@dataclass(slots=True)
class _Column:
    name: str
    type: str = "empty"
    filled: int = 0
    max_chars: int = 0
    empty: Issue = field(init=False)

    def __post_init__(self) -> None:
        self.empty = Issue(
            "empty_cells", WARNING, f"Empty cells in “{self.name}”", "", "", column=self.name
        )

    def widen(self, value_type: str) -> None:
        if self.type == value_type or self.type == "text":
            return
        if self.type == "empty":
            self.type = value_type
        elif {self.type, value_type} == {"integer", "number"}:
            self.type = "number"
        else:
            self.type = "text"


@dataclass
class ValidationResult:
    """What validation learnt: how to read the file, its columns and rows, and the report."""

    fmt: FileFormat | None
    columns: list[dict[str, Any]]
    row_count: int
    report: dict[str, Any]

    @property
    def verdict(self) -> str:
        return self.report["verdict"]

    @property
    def usable(self) -> bool:
        return self.verdict != UNUSABLE

    @property
    def fixable(self) -> bool:
        """Cannot be used as it is, but every error has a fix button (so the file is worth keeping)."""
        errors = self.errors
        return bool(errors) and all(issue["code"] in FIXABLE for issue in errors)

    @property
    def errors(self) -> list[dict[str, Any]]:
        return [issue for issue in self.report["issues"] if issue["severity"] == ERROR]

    @property
    def error_message(self) -> str:
        """The first error as one plain sentence pair (what is wrong, how to fix it)."""
        errors = self.errors
        return f"{errors[0]['detail']} {errors[0]['fix']}" if errors else ""


def validate_file(
    stream: BinaryIO, *, filename: str, fmt: FileFormat | None = None, tokens: TokenCounter | None = None
) -> ValidationResult:
    """Read the whole file once, as a stream, and report on it. Never raises for a bad file.

    ``fmt`` skips detection, for files the studio wrote itself (clean-ups).
    """
    if fmt is None:
        try:
            fmt = detect_format(stream, filename=filename)
        except DatasetFileError as exc:
            return _Scan(None, tokens).finish(fatal=exc.issue)
    scan = _Scan(fmt, tokens)
    try:
        with scan.seen:
            if fmt.format == CSV:
                scan.read_csv(stream)
            elif fmt.format == JSONL:
                scan.read_jsonl(stream)
            else:
                scan.read_txt(stream)
    except DatasetFileError as exc:
        return scan.finish(fatal=exc.issue)
    return scan.finish()


class _Scan:
    def __init__(self, fmt: FileFormat | None, tokens: TokenCounter | None) -> None:
        self.fmt = fmt
        self.tokens = tokens or TokenCounter()
        self.seen = SeenRows()
        self.columns: list[_Column] = []
        self.index: dict[str, int] = {}
        self.rows = 0
        self.issues: list[Issue] = []
        self.empty_rows = Issue(
            "empty_rows", WARNING, "Empty rows", "", "Use “Drop empty rows”, or delete them in your spreadsheet. "
            "Empty rows teach a model nothing."
        )
        self.duplicates = Issue(
            "duplicate_rows", WARNING, "Duplicate rows", "", "Use “Drop duplicates” to keep the first copy of each. "
            "Repeated examples make a model over-learn them."
        )
        self.whitespace = Issue(
            "whitespace", WARNING, "Extra spaces", "", "Use “Trim whitespace” to remove spaces and line "
            "breaks around values."
        )
        self.long_rows = Issue(
            "long_texts", WARNING, "Very long rows", "", f"A fine-tune reads at most {LONG_TEXT_TOKENS:,} tokens "
            "of an example and cuts the rest. Shorten these rows or split them into several."
        )
        self.bad_encoding = Issue(
            "bad_encoding", ERROR, "Letters that cannot be read", "",
            "Use “Read it as Windows-1252”: below is how these lines read that way. If they look right, that "
            "fixes them and keeps the rest of the file as it is. If not, s" + SAVE_AS_UTF8[1:],
        )
        self.formulas = Issue(
            "formula_cells", WARNING, "Cells that start like a spreadsheet formula", "",
            "Use “Clean formula cells”: it removes the =, +, - or @ at the start of these cells (and the spaces "
            "after it) and keeps their words, so “@members get 10% off” becomes “members get 10% off”. We "
            "remove the sign instead of putting a ' in front, because a ' would become part of the training "
            "text. Plain numbers such as -4.5 are left alone.",
        )
        self.ragged = Issue("ragged_rows", ERROR, "Rows with the wrong number of values", "", "")
        self.bad_json = Issue(
            "invalid_json", ERROR, "Lines that are not JSON objects", "",
            'Each line must be one complete JSON object, like {"question": "…", "answer": "…"}. Check these '
            "lines for a missing comma, quote or bracket.",
        )

    # Reading -------------------------------------------------------------------------------------

    def _undecodable(self, line: int, text: str) -> str:
        """Note a line that is not UTF-8, and go on reading it as Windows-1252 (what the fix would do)."""
        decoded = read_as_cp1252(text)
        preview = decoded.strip()
        self.bad_encoding.at(line, preview[:117] + "…" if len(preview) > 120 else preview)
        return decoded

    def read_csv(self, stream: BinaryIO) -> None:
        assert self.fmt is not None
        records = raw_records(stream, self.fmt, undecodable=self._undecodable)
        header = next(records, None)
        if header is None:
            return
        names, unnamed = header_columns(header[1])
        if not self._set_header(names, unnamed):
            return
        width = len(names)
        for line, values in records:
            fitted = fit_row(values, width)
            if fitted is None:
                self.ragged.at(line, f"{plural(len(values), 'value')}")
                continue
            self._add_row(line, fitted)

    def read_jsonl(self, stream: BinaryIO) -> None:
        assert self.fmt is not None
        for line, text in raw_records(stream, self.fmt, undecodable=self._undecodable):
            if not text.strip():
                self._add_row(line, [""] * len(self.columns))
                continue
            try:
                obj = parse_json_line(text)
            except ValueError as exc:
                self.bad_json.at(line, str(exc))
                continue
            for key in obj:
                if key not in self.index:
                    if len(self.columns) >= MAX_COLUMNS:
                        self._too_many_columns(f"Line {line} brings the number of different keys over {MAX_COLUMNS}.")
                        return
                    self.index[key] = len(self.columns)
                    self.columns.append(_Column(key))
            values = [cell_text(obj.get(column.name)) for column in self.columns]
            nested = {self.index[key] for key, value in obj.items() if isinstance(value, dict | list)}
            self._add_row(line, values, nested)

    def read_txt(self, stream: BinaryIO) -> None:
        assert self.fmt is not None
        self.columns = [_Column(TXT_COLUMN)]
        for line, text in raw_records(stream, self.fmt, undecodable=self._undecodable):
            self._add_row(line, [text])

    def _set_header(self, names: list[str], unnamed: list[int]) -> bool:
        if len(names) > MAX_COLUMNS:
            self._too_many_columns(f"The header (line 1) has {len(names):,} columns.")
            return False
        positions: dict[str, list[int]] = {}
        for position, name in enumerate(names, 1):
            positions.setdefault(name, []).append(position)
        repeated = {name: where for name, where in positions.items() if len(where) > 1}
        if repeated:
            name, where = next(iter(repeated.items()))
            issue = Issue(
                "duplicate_columns", ERROR, "Two columns share a name",
                f"The header has “{name}” more than once (columns {', '.join(map(str, where))}).",
                "Rename the columns in the first row so each has its own name.",
            )
            self.issues.append(issue.at(1))
            return False
        if unnamed:
            self.issues.append(
                Issue(
                    "unnamed_columns", WARNING, "Columns without a name",
                    f"Column {', '.join(map(str, unnamed))} has no name in the header row; we call it "
                    f"{', '.join(f'column_{n}' for n in unnamed)}.",
                    "Give every column a name in the first row, so you can tell them apart when mapping.",
                ).at(1)
            )
        self.columns = [_Column(name) for name in names]
        self.index = {name: i for i, name in enumerate(names)}
        if len(names) == 1 and any(d in names[0] for d in DELIMITERS):
            self.issues.append(
                Issue(
                    "single_column", INFO, "Only one column found",
                    f"We read one column called “{names[0]}”.",
                    "If your file has several columns, separate them with commas, semicolons, tabs or |, "
                    "the same one on every line.",
                )
            )
        return True

    def _too_many_columns(self, detail: str) -> None:
        self.issues.append(
            Issue(
                "too_many_columns", ERROR, "Too many columns", detail,
                f"A dataset can have at most {MAX_COLUMNS} columns. Keep only the ones a product needs.",
                count=1,
            )
        )

    def _add_row(self, line: int, values: list[str], nested: set[int] | None = None) -> None:
        self.rows += 1
        stripped = [value.strip() for value in values]
        if not any(stripped):
            self.empty_rows.at(line)
            return
        first = self.seen.first_line(values, line)
        if first is not None:
            self.duplicates.at(line, f"same as line {first}")
        texts = []
        for position, (column, value, clean) in enumerate(zip(self.columns, values, stripped, strict=False)):
            if not clean:
                column.empty.at(line)
                continue
            column.filled += 1
            if len(value) > column.max_chars:
                column.max_chars = len(value)
            if column.type != "text":
                column.widen("json" if nested and position in nested else _value_type(clean))
            if len(clean) != len(value):
                self.whitespace.at(line, f"“{column.name}”")
            if formula_like(clean):
                self.formulas.at(line, f"“{column.name}”: {clean[:40]}{'…' if len(clean) > 40 else ''}")
            texts.append(clean)
        tokens = self.tokens.add("\n".join(texts))
        if tokens > LONG_TEXT_TOKENS:
            self.long_rows.at(line, f"about {tokens:,} tokens")

    # Reporting -----------------------------------------------------------------------------------

    def finish(self, fatal: Issue | None = None) -> ValidationResult:
        usable = self.rows - self.empty_rows.count
        issues = list(self.issues)
        if self.bad_encoding.count:
            n = self.bad_encoding.count
            self.bad_encoding.detail = (
                f"{lines_phrase(self.bad_encoding).capitalize()} {'is' if n == 1 else 'are'} not UTF-8 text, so "
                "some letters (like é or ’) cannot be read. The file was probably saved as Latin-1 / "
                "Windows-1252, the default of older Excel and Windows apps."
            )
            self.bad_encoding.action = {
                "fix": READ_AS_WINDOWS_1252, "label": "Read it as Windows-1252", "preview": True,
                "help": f"Makes a fixed copy with {plural(n, 'line')} read as Windows-1252; this upload stays "
                "as it is.",
            }
            issues.append(self.bad_encoding)
        if self.ragged.count:
            width = len(self.columns)
            delimiter = self.fmt.delimiter_label if self.fmt else "delimiter"
            self.ragged.detail = (
                f"{plural(self.ragged.count, 'row')} {'does' if self.ragged.count == 1 else 'do'} not have the "
                f"{width} values the header has."
            )
            self.ragged.fix = (
                f"Usually a value contains a {delimiter} without quotes around it. Put quotes around such values, "
                "or export the file again from your spreadsheet app. Or skip these rows."
            )
            n = self.ragged.count
            self.ragged.action = {
                "fix": SKIP_BAD_ROWS, "label": f"Skip {'this row' if n == 1 else f'these {n:,} rows'}",
                "help": f"Makes a fixed copy without {lines_phrase(self.ragged)}; this upload stays as it is.",
            }
            issues.append(self.ragged)
        if self.bad_json.count:
            self.bad_json.detail = (
                f"{plural(self.bad_json.count, 'line')} {'is' if self.bad_json.count == 1 else 'are'} "
                "not a valid JSON object."
            )
            n = self.bad_json.count
            self.bad_json.action = {
                "fix": SKIP_BAD_ROWS, "label": f"Skip {'this line' if n == 1 else f'these {n:,} lines'}",
                "help": f"Makes a fixed copy without {lines_phrase(self.bad_json)}; this upload stays as it is.",
            }
            issues.append(self.bad_json)
        if fatal is not None:
            issues.append(fatal)
        has_errors = any(issue.severity == ERROR for issue in issues)
        if not has_errors and usable == 0 and self.fmt is not None:
            names = ", ".join(column.name for column in self.columns)
            detail = (
                f"The file has a header row ({names}) but no rows of data below it."
                if self.rows == 0 and self.fmt.format == CSV
                else "Every row in the file is empty."
            )
            issues.append(
                Issue(
                    "no_rows", ERROR, "No data", detail,
                    "Add at least one example, or check you exported the right sheet.", count=1,
                )
            )
        issues.extend(self._warnings(usable))  # beside any errors: every problem in one report
        issues.sort(key=lambda issue: (ERROR, WARNING, INFO).index(issue.severity))
        counts = {severity: sum(issue.severity == severity for issue in issues) for severity in (ERROR, WARNING, INFO)}
        verdict = UNUSABLE if counts[ERROR] else WARNINGS if counts[WARNING] else READY
        columns = [
            {
                "name": column.name, "type": column.type, "type_label": TYPE_LABELS[column.type],
                "filled": column.filled, "empty": usable - column.filled, "max_chars": column.max_chars,
            }
            for column in self.columns
        ]
        fmt = self.fmt
        report = {
            "verdict": verdict,
            "verdict_label": VERDICT_LABELS[verdict],
            "format": fmt.format if fmt else "",
            "format_label": FORMAT_LABELS.get(fmt.format, "") if fmt else "",
            "encoding": ENCODING_LABELS.get(fmt.encoding, fmt.encoding) if fmt else "",
            "delimiter": fmt.delimiter if fmt else "",
            "delimiter_label": fmt.delimiter_label if fmt and fmt.delimiter else "",
            "row_count": self.rows,
            "usable_rows": usable,
            "empty_rows": self.empty_rows.count,
            "duplicate_rows": self.duplicates.count,
            "columns": columns,
            "issues": [issue.to_dict() for issue in issues],
            "counts": counts,
            "tokens": self.tokens.to_dict() if self.tokens.rows and not counts[ERROR] else None,
        }
        return ValidationResult(
            fmt=fmt,
            columns=[{"name": c["name"], "type": c["type"]} for c in columns],
            row_count=self.rows,
            report=report,
        )

    def _warnings(self, usable: int) -> list[Issue]:
        found = []
        if self.empty_rows.count:
            n = self.empty_rows.count
            self.empty_rows.detail = f"{plural(n, 'row')} {'has' if n == 1 else 'have'} no values at all."
            self.empty_rows.action = {"fix": DROP_EMPTY_ROWS, "label": "Drop empty rows"}
            found.append(self.empty_rows)
        if self.duplicates.count:
            n = self.duplicates.count
            self.duplicates.detail = f"{plural(n, 'row')} {'repeats' if n == 1 else 'repeat'} an earlier row exactly."
            self.duplicates.action = {"fix": DROP_DUPLICATES, "label": "Drop duplicates"}
            found.append(self.duplicates)
        if len(self.columns) > 1:
            for column in self.columns:
                missing = usable - column.filled
                if missing and usable:
                    column.empty.count = missing
                    column.empty.detail = f"“{column.name}” is empty on {missing:,} of {plural(usable, 'row')}."
                    column.empty.fix = (
                        "Fill them in, or leave them: when training, rows missing a value the product needs "
                        "are skipped."
                    )
                    found.append(column.empty)
        if self.whitespace.count:
            n = self.whitespace.count
            self.whitespace.detail = (
                f"{plural(n, 'value')} {'starts or ends' if n == 1 else 'start or end'} with spaces or line breaks."
            )
            self.whitespace.action = {"fix": TRIM_WHITESPACE, "label": "Trim whitespace"}
            found.append(self.whitespace)
        if self.formulas.count:
            n = self.formulas.count
            self.formulas.detail = (
                f"{plural(n, 'cell')} on {lines_phrase(self.formulas)} {'starts' if n == 1 else 'start'} with =, +, "
                "- or @. A spreadsheet runs such a cell as a formula, and as training text it teaches the model "
                "to start its answers the same way."
            )
            self.formulas.action = {"fix": CLEAN_FORMULAS, "label": "Clean formula cells"}
            found.append(self.formulas)
        if self.long_rows.count:
            n = self.long_rows.count
            self.long_rows.detail = (
                f"{plural(n, 'row')} {'is' if n == 1 else 'are'} longer than about {LONG_TEXT_TOKENS:,} tokens."
            )
            found.append(self.long_rows)
        if 0 < usable < FEW_ROWS:
            found.append(
                Issue(
                    "few_rows", INFO, "Few examples",
                    f"The file has {plural(usable, 'example')}.",
                    "Fine-tuning learns best from at least 50 examples; a few hundred is better.", count=usable,
                )
            )
        return found
