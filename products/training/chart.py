"""The loss chart as SVG coordinates: the only place it is drawn.

The run page renders it (templates/training/run.html, partial ``loss-chart``); as live points arrive,
htmx fetches that partial again (views.run_chart), so there is no second drawing in JavaScript.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from products.training.loss_trend import ValidationRise, validation_rise

WIDTH, HEIGHT, PAD = 640, 240, 36


@dataclass(frozen=True)
class LossChart:
    width: int
    height: int
    pad: int  # room for the axis labels, on every side
    train: str  # SVG polyline points
    validation: str
    y_max: str
    y_min: str
    x_max: int
    empty: bool
    rise: ValidationRise | None = None  # the validation loss climbed after its lowest point (over-fitting)

    @property
    def right(self) -> int:
        return self.width - self.pad

    @property
    def bottom(self) -> int:
        return self.height - self.pad


def loss_chart(points: list[dict[str, Any]], *, total_steps: int) -> LossChart:
    """Polyline points of the training and validation curves, on shared axes from step 0 to ``total_steps``."""
    if not points:
        return LossChart(WIDTH, HEIGHT, PAD, "", "", "", "", total_steps, True)
    losses = [p["loss"] for p in points]
    low, high = min(losses), max(losses)
    if high - low < 1e-9:
        low, high = low - 0.5, high + 0.5
    x_max = max(total_steps, max(p["step"] for p in points), 1)

    def xy(point: dict[str, Any]) -> str:
        x = PAD + (WIDTH - 2 * PAD) * point["step"] / x_max
        y = HEIGHT - PAD - (HEIGHT - 2 * PAD) * (point["loss"] - low) / (high - low)
        return f"{x:.1f},{y:.1f}"

    def line(split: str) -> str:
        return " ".join(xy(p) for p in sorted(points, key=lambda p: p["step"]) if p["split"] == split)

    return LossChart(
        WIDTH, HEIGHT, PAD, line("train"), line("validation"), f"{high:.2f}", f"{low:.2f}", x_max, False,
        validation_rise(points),
    )
