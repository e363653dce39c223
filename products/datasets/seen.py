"""Remember which rows were already seen, in flat memory: a dict for small files, then SQLite on disk.

Duplicate detection is the one check that must remember every row. A 16-byte digest per row
is kept in a dict until ``memory_rows``; beyond that the digests move to a temporary SQLite file
whose page cache is capped (8 MB), so a 1 GB file costs disk, not memory.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import tempfile
from collections.abc import Sequence


def row_digest(values: Sequence[str]) -> bytes:
    # Length-prefixing each value makes ("a,b", "") and ("a", "b,") different keys.
    hasher = hashlib.blake2b(digest_size=16)
    for value in values:
        data = value.encode("utf-8", "surrogatepass")
        hasher.update(len(data).to_bytes(8, "little"))
        hasher.update(data)
    return hasher.digest()


class SeenRows:
    """``first_line(values, line)``: the line where the same row was first seen, or None (and remember it)."""

    def __init__(self, memory_rows: int = 50_000) -> None:
        self.memory_rows = memory_rows
        self._memory: dict[bytes, int] | None = {}
        self._db: sqlite3.Connection | None = None
        self._path = ""

    def first_line(self, values: Sequence[str], line: int) -> int | None:
        key = row_digest(values)
        if self._memory is not None:
            first = self._memory.setdefault(key, line)
            if first != line:
                return first
            if len(self._memory) > self.memory_rows:
                self._spill()
            return None
        assert self._db is not None
        if self._db.execute("INSERT OR IGNORE INTO seen VALUES (?, ?)", (key, line)).rowcount:
            return None
        return self._db.execute("SELECT line FROM seen WHERE k = ?", (key,)).fetchone()[0]

    def _spill(self) -> None:
        handle, self._path = tempfile.mkstemp(prefix="dataset-seen-", suffix=".sqlite3")
        os.close(handle)
        self._db = sqlite3.connect(self._path, isolation_level=None)
        self._db.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-8192; PRAGMA temp_store=FILE;"
            "CREATE TABLE seen (k BLOB PRIMARY KEY, line INTEGER) WITHOUT ROWID; BEGIN;"
        )
        assert self._memory is not None
        self._db.executemany("INSERT INTO seen VALUES (?, ?)", self._memory.items())
        self._memory = None

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._path:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._path)
            self._path = ""

    def __enter__(self) -> SeenRows:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
