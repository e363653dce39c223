"""A recommender run's evaluation report, made ready to draw: a bar chart of the measures side by side, tables.

The numbers are the worker's (EvaluationReport.metrics of a ``recommender`` run); this arranges them: the
grouped bar chart as SVG rectangles computed here (the only place it is drawn, as chart.py does for the
loss curve), the measures as rows, the example users as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

METHODS = ("hybrid", "als", "content", "popularity")
MEASURES = (("recall_at_10", "Recall@10"), ("ndcg_at_10", "NDCG@10"), ("coverage", "Coverage"))
WIDTH, HEIGHT, PAD, BAR, GAP = 640, 260, 36, 30, 6


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    method: str  # the CSS class of its colour
    label: str  # "Hybrid (trained): NDCG@10 0.231"
    value: str

    @property
    def label_y(self) -> float:
        return self.y - 4


def bar_chart(methods: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Grouped bars: one group per measure, one bar per method, all on a 0 to max scale (measures are shares)."""
    present = [m for m in METHODS if m in methods]
    high = max([methods[m].get(key) or 0.0 for m in present for key, _ in MEASURES] + [0.01])
    group = len(present) * (BAR + GAP) + 40
    bars, groups = [], []
    for g, (key, name) in enumerate(MEASURES):
        left = PAD + 10 + g * group
        groups.append({"x": left + len(present) * (BAR + GAP) / 2, "label": name})
        for i, method in enumerate(present):
            value = float(methods[method].get(key) or 0.0)
            height = (HEIGHT - 2 * PAD) * value / high
            bars.append(Bar(left + i * (BAR + GAP), HEIGHT - PAD - height, BAR, height, f"bar-{method}",
                            f"{methods[method]['name']}: {name} {value:.3f}", f"{value:.2f}"))
    return {"width": max(WIDTH, PAD * 2 + 10 + len(MEASURES) * group), "height": HEIGHT, "bottom": HEIGHT - PAD,
            "bars": bars, "groups": groups, "max": f"{high:.2f}",
            "legend": [{"method": f"bar-{m}", "name": methods[m]["name"]} for m in present], "pad": PAD}


def recommender_report(evaluation) -> dict[str, Any] | None:
    """The run page's context for a recommender report, or None when ``evaluation`` is not a recommender's."""
    metrics = (evaluation.metrics or {}) if evaluation is not None else {}
    if metrics.get("kind") != "recommender":
        return None
    methods = metrics["methods"]
    popularity = methods.get("popularity", {})
    rows = []
    for method in METHODS:
        if method not in methods:
            continue
        row = methods[method]
        rows.append({"method": method, "name": row["name"], "recall": row["recall_at_10"], "ndcg": row["ndcg_at_10"],
                     "coverage": row["coverage"],
                     "lift": row["ndcg_at_10"] / popularity["ndcg_at_10"] if popularity.get("ndcg_at_10") else None})
    cold = metrics.get("cold_users") or {}
    return {
        "chart": bar_chart(methods), "rows": rows, "examples": metrics.get("examples", []),
        "weight": metrics.get("weight"), "weights": metrics.get("weights", []),
        "validation_users": metrics.get("validation_users", 0), "held_out_users": metrics.get("held_out_users", 0),
        "held_out_interactions": metrics.get("held_out_interactions", 0), "users": metrics.get("users"),
        "items": metrics.get("items"), "cold": cold, "warnings": metrics.get("warnings", []),
    }
