"""Findings of the dataset doctor: one problem, where it is, and how to fix it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ERROR, WARNING, INFO = "error", "warning", "info"
#: How many line numbers an issue keeps; the count says how many there are in all.
MAX_WHERE = 20


@dataclass
class Issue:
    """One finding. ``where`` lists the first lines it was seen on, each with an optional note."""

    code: str
    severity: str
    title: str
    detail: str
    fix: str
    column: str | None = None
    count: int = 0
    where: list[dict[str, Any]] = field(default_factory=list)
    #: The button that fixes it: {"fix": clean-up id, "label", "help"?, "preview"?: show the lines' notes}.
    action: dict[str, Any] | None = None

    def at(self, line: int, note: str = "") -> Issue:
        """Record one more occurrence, keeping the first MAX_WHERE line numbers."""
        self.count += 1
        if len(self.where) < MAX_WHERE:
            self.where.append({"line": line, "note": note} if note else {"line": line})
        return self

    def to_dict(self) -> dict[str, Any]:
        data = {
            "code": self.code,
            "severity": self.severity,
            "title": self.title,
            "detail": self.detail,
            "fix": self.fix,
            "count": self.count,
            "where": self.where,
            "more": max(self.count - len(self.where), 0),
        }
        if self.column is not None:
            data["column"] = self.column
        if self.action is not None:
            data["action"] = self.action
        return data

    @property
    def message(self) -> str:
        """The issue as one sentence pair, for places that show plain text."""
        return f"{self.detail} {self.fix}".strip()


class DatasetFileError(Exception):
    """The file cannot be read any further; the issue says where and why."""

    def __init__(self, issue: Issue) -> None:
        self.issue = issue
        super().__init__(issue.message)


def fatal(code: str, title: str, detail: str, fix: str, *, line: int | None = None, note: str = "") -> DatasetFileError:
    issue = Issue(code=code, severity=ERROR, title=title, detail=detail, fix=fix)
    if line is not None:
        issue.at(line, note)
    else:
        issue.count = 1
    return DatasetFileError(issue)
