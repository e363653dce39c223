"""Time-to-first-token percentiles from the fixed-bucket histogram, against numpy on the raw values."""

from __future__ import annotations

import numpy as np

from products.releases.histogram import BUCKET_EDGES_MS, bucket_of, histogram_add, histogram_percentile


def _bucket_bounds(ms: float) -> tuple[float, float]:
    index = bucket_of(int(ms))
    low = 0 if index == 0 else BUCKET_EDGES_MS[index - 1]
    high = BUCKET_EDGES_MS[index] if index < len(BUCKET_EDGES_MS) else float("inf")
    return low, high


def test_p50_and_p95_from_the_histogram_are_within_one_bucket_of_numpy():
    rng = np.random.default_rng(16)
    values = np.concatenate([rng.lognormal(5.5, 0.6, 3000), rng.uniform(1000, 4000, 200)]).round().astype(int)
    counts: list[int] = []
    for value in values:
        counts = histogram_add(counts, int(value))
    for percent in (50, 95):
        exact = float(np.percentile(values, percent))
        estimate = histogram_percentile(counts, percent)
        low, high = _bucket_bounds(exact)
        width = high - low
        assert abs(estimate - exact) <= width, f"p{percent}: {estimate:.0f} ms from the histogram, numpy {exact:.0f}"


def test_no_times_give_no_percentile_and_one_time_stays_in_its_bucket():
    assert histogram_percentile([], 95) is None
    counts = histogram_add(None, 420)
    assert 400 <= histogram_percentile(counts, 50) <= 500
