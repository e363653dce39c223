"""Line diffs of a version's texts against the version before it, computed here and drawn by the template.

difflib on the server, so the page needs no script (the studio's pages run none inline) and a person reads
the same diff with or without JavaScript.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

SAME, ADDED, REMOVED = "same", "added", "removed"


@dataclass(frozen=True)
class DiffLine:
    change: str  # SAME | ADDED | REMOVED
    text: str
    old_number: int | None  # line number in the older text (None: added)
    new_number: int | None  # line number in the newer text (None: removed)

    @property
    def sign(self) -> str:
        return {ADDED: "+", REMOVED: "−"}.get(self.change, "")


@dataclass(frozen=True)
class TextDiff:
    label: str
    lines: list[DiffLine]

    @property
    def changed(self) -> bool:
        return any(line.change != SAME for line in self.lines)

    @property
    def added(self) -> int:
        return sum(line.change == ADDED for line in self.lines)

    @property
    def removed(self) -> int:
        return sum(line.change == REMOVED for line in self.lines)


def text_diff(*, label: str, old: str, new: str) -> TextDiff:
    """Every line of ``new`` in order, with the lines of ``old`` it replaced or dropped marked removed."""
    old_lines, new_lines = old.splitlines(), new.splitlines()
    lines: list[DiffLine] = []
    matcher = difflib.SequenceMatcher(a=old_lines, b=new_lines, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            lines += [DiffLine(SAME, new_lines[j1 + k], i1 + k + 1, j1 + k + 1) for k in range(i2 - i1)]
            continue
        # "replace" shows the old lines, then the new ones, as a reviewer reads a change.
        lines += [DiffLine(REMOVED, old_lines[i], i + 1, None) for i in range(i1, i2)]
        lines += [DiffLine(ADDED, new_lines[j], None, j + 1) for j in range(j1, j2)]
    return TextDiff(label=label, lines=lines)
