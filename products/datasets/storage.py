"""Dataset files under MEDIA_ROOT: server-chosen names, content hashes, and no file left behind on failure.

Django has no "on rollback" hook, so a service that writes a file and then rows wraps both in
``files_deleted_on_failure``: any exception (including a failed commit) deletes what was written.
Files are deleted after a commit only (``delete_on_commit``), so a rolled-back delete keeps its file.
``sweep_orphans`` removes what an outer transaction's rollback could still leave.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import BinaryIO

from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

logger = logging.getLogger(__name__)

ROOT = "datasets"
EXTENSIONS = {"csv": "csv", "jsonl": "jsonl", "txt": "txt"}


@dataclass(frozen=True)
class StoredFile:
    name: str
    sha256: str
    size: int


def team_folder(team_id: int) -> str:
    return f"{ROOT}/team-{team_id}"


def new_file_name(*, team_id: int, fmt: str) -> str:
    """A name nobody chose: the person's file name never reaches the file system."""
    return f"{team_folder(team_id)}/{uuid.uuid4().hex}.{EXTENSIONS[fmt]}"


class _HashingReader:
    """A read-only file object that hashes and counts what passes through it."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.reset()

    def reset(self) -> None:
        self.hasher, self.size = hashlib.sha256(), 0

    def seek(self, offset: int, whence: int = 0) -> int:
        if (offset, whence) != (0, 0):
            raise OSError("Only a rewind is supported while hashing.")
        self.reset()
        return self._stream.seek(0)

    def tell(self) -> int:
        return self.size

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self.hasher.update(data)
        self.size += len(data)
        return data


def store_stream(stream: BinaryIO, *, name: str) -> StoredFile:
    """Copy a binary stream into storage under ``name``, hashing it on the way (one pass, flat memory)."""
    reader = _HashingReader(stream)
    reader.seek(0)
    stored_name = default_storage.save(name, File(reader, name=name))
    return StoredFile(stored_name, reader.hasher.hexdigest(), reader.size)


@contextmanager
def files_deleted_on_failure() -> Iterator[list[str]]:
    """Collects names of files written inside the block; deletes them if the block raises."""
    written: list[str] = []
    try:
        yield written
    except BaseException:
        for name in written:
            try:
                default_storage.delete(name)
            except OSError:
                logger.exception("Could not delete %s after a failed dataset write.", name)
        raise


def delete_on_commit(name: str) -> None:
    """Delete a stored file once the transaction that stopped using it commits."""
    transaction.on_commit(lambda: default_storage.delete(name))


def sweep_orphans(*, team_id: int, referenced: set[str], older_than: timedelta = timedelta(hours=1)) -> int:
    """Delete the team's dataset files that no row names and that are older than ``older_than``."""
    folder = team_folder(team_id)
    try:
        _, files = default_storage.listdir(folder)
    except (FileNotFoundError, NotImplementedError):
        return 0
    cutoff = timezone.now() - older_than
    removed = 0
    for file_name in files:
        name = f"{folder}/{file_name}"
        if name in referenced:
            continue
        try:
            if default_storage.get_modified_time(name) < cutoff:
                default_storage.delete(name)
                removed += 1
        except (FileNotFoundError, NotImplementedError):
            continue
    if removed:
        logger.info("Removed %d orphaned dataset files of team %s.", removed, team_id)
    return removed
