"""The seeded train/validation split: an exact-size random subset, chosen while streaming.

Selection sampling (Knuth, TAOCP vol. 2, Algorithm S) picks exactly ``k`` of ``n`` rows, each subset
equally likely, with one random number per row and no memory of past rows, so the same seed
gives the same split on every read of an immutable version.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator, Sequence

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


def stratified_validation_flags(labels: Sequence[str], validation: int, seed: int) -> list[bool]:
    """One flag per row, exactly ``validation`` of them True, spread over the labels in proportion.

    Classification versions use this instead of ``validation_flags``: a purely random pick can leave a
    small label out of the held-out rows, and then nobody can see how the model does on it. Each label
    that has at least two rows keeps one in validation (when ``validation`` allows one per such label)
    and one in training; the rest of the held-out rows go to labels by largest remainder of their share.
    Within a label the rows are picked by selection sampling, seeded by ``seed``, so every read of an
    immutable version gives the same split. ``labels`` holds the label of each row in file order (an
    empty string for a row without one: it is a stratum of its own).
    """
    counts = Counter(labels)
    total = len(labels)
    validation = max(0, min(validation, total))
    quota = _label_quotas(counts, total, validation)
    rng = random.Random(seed)
    # Per label: how many still to pick and how many rows of it are still to come.
    needed, remaining = dict(quota), dict(counts)
    flags = []
    for label in labels:
        picked = rng.random() * remaining[label] < needed[label]
        needed[label] -= picked
        remaining[label] -= 1
        flags.append(picked)
    return flags


def _label_quotas(counts: Counter, total: int, validation: int) -> dict[str, int]:
    """Held-out rows per label, summing to exactly ``validation``."""
    quota = dict.fromkeys(counts, 0)
    if not validation or not total:
        return quota
    # Never hold out a label's last training row: at most count - 1 of a label, and none of a single-row label.
    cap = {label: max(count - 1, 0) for label, count in counts.items()}
    if sum(cap.values()) < validation:  # so many held out that some label gives its last row
        cap = dict(counts)
    eligible = sorted((label for label in counts if cap[label] > 0), key=lambda label: (-counts[label], label))
    if len(eligible) <= validation:  # one each first, so no label with two rows vanishes from validation
        for label in eligible:
            quota[label] = 1
    left = validation - sum(quota.values())
    shares = {label: counts[label] * validation / total for label in counts}
    for label in counts:
        extra = min(max(int(shares[label]) - quota[label], 0), cap[label] - quota[label], left)
        quota[label] += extra
        left -= extra
    # Largest remainders next (ties: bigger label, then name), as often as needed while any label has room.
    order = sorted(counts, key=lambda label: (-(shares[label] - int(shares[label])), -counts[label], label))
    while left > 0:
        progressed = False
        for label in order:
            if left and quota[label] < cap[label]:
                quota[label] += 1
                left -= 1
                progressed = True
        if not progressed:
            break
    return quota
