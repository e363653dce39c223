"""The win rate of version B over version A from blind votes, with its Wilson 95 % interval (statsmodels).

Ties are left out of the rate. A version wins once at least MIN_VOTES decisive votes are in and the
interval lies wholly on its side of 50 %: B wins when the lower bound of B's rate passes 50 %, A wins
when the upper bound falls below it (A's own lower bound then passes 50 %).
"""

from __future__ import annotations

from dataclasses import dataclass

from statsmodels.stats.proportion import proportion_confint

#: Decisive votes (ties excluded) before any version may be called the winner.
MIN_VOTES = 20
ALPHA = 0.05
#: The furthest ahead "N more votes" looks when the current lead is thin.
MAX_MORE_VOTES = 10_000


def wilson_interval(wins: int, total: int) -> tuple[float, float]:
    """The Wilson 95 % interval of ``wins / total``; (0, 1) before any vote."""
    if total == 0:
        return 0.0, 1.0
    low, high = proportion_confint(wins, total, alpha=ALPHA, method="wilson")
    return float(low), float(high)


def _decided(wins_b: int, total: int) -> bool:
    low, high = wilson_interval(wins_b, total)
    return total >= MIN_VOTES and (low > 0.5 or high < 0.5)


@dataclass(frozen=True)
class Tally:
    wins_a: int
    wins_b: int
    ties: int
    low: float
    high: float
    winner: str | None  # "a", "b" or None
    more_votes: int | None  # decisive votes still needed at the current rate; None when it is level

    @property
    def decisive(self) -> int:
        return self.wins_a + self.wins_b

    @property
    def votes(self) -> int:
        return self.decisive + self.ties

    @property
    def rate_b(self) -> float | None:
        """B's share of the decisive votes; None before any."""
        return self.wins_b / self.decisive if self.decisive else None


def _more_votes(wins_b: int, total: int) -> int | None:
    """Decisive votes to add, split as the current ones are, before the interval leaves 50 % (None: never)."""
    if total < MIN_VOTES:
        least = MIN_VOTES - total
        if not total:
            return least
    else:
        least = 1
    rate = wins_b / total
    if rate == 0.5:
        return None if total >= MIN_VOTES else least
    for more in range(least, MAX_MORE_VOTES + 1):
        if _decided(round(rate * (total + more)), total + more):
            return more
    return None


def tally(*, wins_a: int, wins_b: int, ties: int) -> Tally:
    """The figures and the verdict the results page shows."""
    total = wins_a + wins_b
    low, high = wilson_interval(wins_b, total)
    winner = ("b" if low > 0.5 else "a" if high < 0.5 else None) if total >= MIN_VOTES else None
    return Tally(wins_a=wins_a, wins_b=wins_b, ties=ties, low=low, high=high, winner=winner,
                 more_votes=None if winner else _more_votes(wins_b, total))
