"""The secret of a studio that was given none: generated once into a file only its owner can read."""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

MIN_LENGTH = 50


def secret_key_load_or_create(path: Path) -> str:
    """The secret stored at ``path``; a new random one is written there (mode 0600) the first time."""
    if not path.exists():
        _write_once(path, secrets.token_urlsafe(MIN_LENGTH))
    key = path.read_text().strip()
    if len(key) < MIN_LENGTH:
        raise RuntimeError(f"{path} holds no usable secret (under {MIN_LENGTH} characters). Delete it for a new one.")
    return key


def _write_once(path: Path, key: str) -> None:
    # Written whole to a private temporary file, then linked into place: linking fails if the file
    # exists, so two processes starting at once end up reading the same key, never a half-written one.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".secret-")  # mkstemp creates it 0600
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(key + "\n")
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        os.unlink(temporary)
