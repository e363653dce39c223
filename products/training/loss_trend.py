"""Did the validation loss rise at the end? The run page's "stopped improving after step N" note.

A validation loss that falls and then climbs means the model began to learn its training examples by
heart instead of the style they share (over-fitting); the best checkpoint was earlier, and fewer epochs
would do as well for less time. Computed here from the run's metrics, so the page and its live chart
fragment say the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: How much above its lowest point the last validation loss must be to count as "rose", relative to the
#: lowest: below this, the wobble of a few held-out rows says nothing.
RISE_FRACTION = 0.02


@dataclass(frozen=True)
class ValidationRise:
    best_step: int
    best_loss: float
    last_step: int
    last_loss: float


def validation_rise(points: list[dict[str, Any]]) -> ValidationRise | None:
    """The lowest validation point and the last one, when the last rose clearly above the lowest."""
    validation = sorted((p for p in points if p["split"] == "validation"), key=lambda p: p["step"])
    if len(validation) < 2:
        return None
    best = min(validation, key=lambda p: p["loss"])  # the first of equal lows: where improving stopped
    last = validation[-1]
    if last is best or last["loss"] <= best["loss"] * (1 + RISE_FRACTION):
        return None
    return ValidationRise(best["step"], best["loss"], last["step"], last["loss"])
