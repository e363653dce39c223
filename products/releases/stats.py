"""The statistics of the release page, from statsmodels and scipy (never hand-written formulas)."""

from __future__ import annotations

from dataclasses import dataclass

#: A split whose traffic is this unlikely under the share that was set is flagged (sample ratio mismatch).
SRM_P_VALUE = 0.001


@dataclass(frozen=True)
class Interval:
    low: float
    high: float


def rate_difference_interval(*, hits_a: int, total_a: int, hits_b: int, total_b: int,
                             level: float = 0.95) -> Interval | None:
    """Interval for rate(b) − rate(a) (Newcombe's score method); None while an arm has no generation."""
    if not total_a or not total_b:
        return None
    from statsmodels.stats.proportion import confint_proportions_2indep  # imports pandas: only when a page asks

    low, high = confint_proportions_2indep(hits_b, total_b, hits_a, total_a, method="newcomb", compare="diff",
                                           alpha=1 - level)
    return Interval(float(low), float(high))


def sample_ratio_p_value(*, control: int, candidate: int, share_percent: float) -> float | None:
    """The chi-square p-value of the observed split against the share set; None with too few generations."""
    total = control + candidate
    expected = [total * (100 - share_percent) / 100, total * share_percent / 100]
    if min(expected) < 5:  # the test's approximation needs about five expected per arm
        return None
    from scipy.stats import chisquare

    return float(chisquare([control, candidate], f_exp=expected).pvalue)
