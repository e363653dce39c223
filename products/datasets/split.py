"""The seeded train/validation split: an exact-size random subset, chosen while streaming.

Selection sampling (Knuth, TAOCP vol. 2, Algorithm S) picks exactly ``k`` of ``n`` rows, each subset
equally likely, with one random number per row and no memory of past rows, so the same seed
gives the same split on every read of an immutable version.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

DEFAULT_FRACTION = 0.1
MAX_FRACTION = 0.5
DEFAULT_SEED = 42


def validation_size(row_count: int, fraction: float) -> int:
    """Rows held out for validation: at least one when asked for any, and always one row left to train on."""
    if fraction <= 0 or row_count < 2:
        return 0
    return min(max(1, round(row_count * fraction)), row_count - 1)


def validation_flags(row_count: int, validation: int, seed: int) -> Iterator[bool]:
    """One flag per row, True for the ``validation`` rows held out; exactly that many are True."""
    rng = random.Random(seed)
    needed, remaining = validation, row_count
    for _ in range(row_count):
        picked = rng.random() * remaining < needed
        needed -= picked
        remaining -= 1
        yield picked
