"""Time to first token in fixed buckets: rollups add counts, percentiles come from the counts.

The same arithmetic on PostgreSQL and SQLite (which has no percentile function), and a dashboard sums a
few histograms instead of sorting every generation.
"""

from __future__ import annotations

from collections.abc import Iterable

#: Upper edges in milliseconds; a last open bucket holds everything slower than the final edge.
BUCKET_EDGES_MS = (50, 100, 150, 200, 300, 400, 500, 750, 1000, 1500, 2000, 3000, 5000, 10000, 30000)
BUCKETS = len(BUCKET_EDGES_MS) + 1


def bucket_of(ms: int) -> int:
    """The bucket index holding ``ms``: bucket i is (edge[i-1], edge[i]]."""
    for index, edge in enumerate(BUCKET_EDGES_MS):
        if ms <= edge:
            return index
    return len(BUCKET_EDGES_MS)


def histogram_add(counts: list[int] | None, ms: int) -> list[int]:
    counts = list(counts or []) + [0] * (BUCKETS - len(counts or []))
    counts[bucket_of(ms)] += 1
    return counts


def histogram_sum(histograms: Iterable[list[int] | None]) -> list[int]:
    total = [0] * BUCKETS
    for counts in histograms:
        for index, count in enumerate(counts or []):
            total[index] += count
    return total


def histogram_percentile(counts: list[int], percent: float) -> float | None:
    """The ``percent``-th percentile in ms, interpolated inside its bucket; None without any value.

    Exact to within the width of the bucket it falls in (the open last bucket answers its lower edge).
    """
    total = sum(counts)
    if not total:
        return None
    rank = percent / 100 * total
    seen = 0
    for index, count in enumerate(counts):
        if count and seen + count >= rank:
            low = 0 if index == 0 else BUCKET_EDGES_MS[index - 1]
            if index >= len(BUCKET_EDGES_MS):
                return float(low)
            high = BUCKET_EDGES_MS[index]
            return low + (high - low) * max(rank - seen, 0) / count
        seen += count
    return float(BUCKET_EDGES_MS[-1])
