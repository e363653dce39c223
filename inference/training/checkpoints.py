"""Atomic checkpoint folders: written under a temporary name, marked complete, then renamed into place.

A worker killed while writing leaves a ``.tmp-*`` folder, which is never taken for a checkpoint; a
resumed run starts from the highest step whose folder carries the completion marker. The marker is
redundant with the rename on a local disk, and is what still protects a copy on storage without
atomic renames.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

MARKER = "COMPLETE"
KEEP = 2  # the newest checkpoints kept; older ones are deleted once a newer one is complete
_NAME = re.compile(r"^step-(\d{8})$")


@dataclass(frozen=True)
class Checkpoint:
    step: int
    path: Path


def checkpoint_name(step: int) -> str:
    return f"step-{step:08d}"


def write_checkpoint(root: Path, step: int, write: Callable[[Path], None]) -> Checkpoint:
    """Have ``write`` fill a temporary folder, then make it the checkpoint of ``step`` in one rename."""
    root.mkdir(parents=True, exist_ok=True)
    final = root / checkpoint_name(step)
    tmp = root / f".tmp-{checkpoint_name(step)}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        write(tmp)
        # Flush the weights before the marker and the marker before the rename, so a crash never leaves a
        # marked folder whose files did not reach the disk.
        _fsync_files(tmp)
        (tmp / MARKER).write_text(json.dumps({"step": step}))
        _fsync_files(tmp)
        _fsync_dir(tmp)
        if final.exists():  # the same step again after a resume: the new one replaces it
            shutil.rmtree(final)
        tmp.rename(final)
        _fsync_dir(root)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    _prune(root, keep_from=step)
    return Checkpoint(step, final)


def latest_checkpoint(root: Path) -> Checkpoint | None:
    """The complete checkpoint with the highest step, or None."""
    if not root.is_dir():
        return None
    found = []
    for path in root.iterdir():
        match = _NAME.match(path.name)
        if match and (path / MARKER).is_file():
            found.append(Checkpoint(int(match.group(1)), path))
    return max(found, key=lambda checkpoint: checkpoint.step, default=None)


def remove_checkpoints(root: Path) -> None:
    shutil.rmtree(root, ignore_errors=True)


def _prune(root: Path, *, keep_from: int) -> None:
    complete = sorted(
        (int(match.group(1)), path)
        for path in root.iterdir()
        if (match := _NAME.match(path.name)) and (path / MARKER).is_file()
    )
    for step, path in complete[:-KEEP]:
        if step < keep_from:
            shutil.rmtree(path, ignore_errors=True)
    # Only the lease holder writes here, and its own write is done: any temporary folder left is a dead writer's.
    for path in root.iterdir():
        if path.name.startswith(".tmp-"):
            shutil.rmtree(path, ignore_errors=True)


def _fsync_files(folder: Path) -> None:
    for child in folder.iterdir():
        if child.is_file():
            with open(child, "rb") as handle:
                os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot sync a folder; the rename is still atomic there
    finally:
        os.close(fd)
