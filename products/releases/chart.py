"""Usage over time as SVG coordinates, drawn on the server (like products/training/chart.py): no JavaScript, no CDN.

One small chart per measure (generations, 👍 rate, p95 time to first token, tokens, errors), each a
viewBox that scales to the page width, so the same SVG reads on a phone and on a desktop.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from products.releases.selectors import DayUsage, Totals

WIDTH, HEIGHT, PAD_X, PAD_Y = 320, 140, 48, 18


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str  # the day and value, as the bar's tooltip and for screen readers


@dataclass(frozen=True)
class DayChart:
    title: str
    width: int
    height: int
    pad_x: int
    pad_y: int
    bars: list[Bar]
    line: str  # SVG polyline points (rates and latencies), empty for bar charts
    dots: list[Bar]  # the line's days (x, y: the centre), each with its tooltip
    y_max: str
    first_day: str
    last_day: str
    summary: str  # the whole period in words, under the chart
    empty: bool

    @property
    def right(self) -> int:
        return self.width - self.pad_x // 3

    @property
    def bottom(self) -> int:
        return self.height - self.pad_y


def _short(value: float) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if value >= 10_000:
        return f"{value / 1000:.0f}k"
    if value >= 1000:
        return f"{value / 1000:.1f}k"
    return f"{value:.0f}" if value == int(value) else f"{value:.2f}"


def day_chart(days: Sequence[DayUsage], *, title: str, value: Callable[[Totals], float | None],
              unit: str = "", line: bool = False, summary: str = "") -> DayChart:
    """Bars (counts) or a line (rates, latencies: days without a value leave a gap in the dots) per day."""
    values = [value(d.totals) for d in days]
    present = [v for v in values if v is not None]
    high = max(present, default=0) or 1
    inner_w, inner_h = WIDTH - PAD_X - PAD_X // 3, HEIGHT - 2 * PAD_Y
    step = inner_w / max(len(days), 1)
    bars, dots = [], []
    for index, (d, v) in enumerate(zip(days, values, strict=True)):
        if v is None:
            continue
        height = inner_h * v / high
        x = PAD_X + index * step
        label = f"{d.day:%d %b}: {_short(v)}{unit}"
        if line:
            dots.append(Bar(round(x + step / 2, 1), round(HEIGHT - PAD_Y - height, 1), 0, 0, label))
            continue
        bars.append(Bar(round(x + step * 0.1, 1), round(HEIGHT - PAD_Y - height, 1), round(step * 0.8, 1),
                        round(height, 1), label))
    return DayChart(
        title=title, width=WIDTH, height=HEIGHT, pad_x=PAD_X, pad_y=PAD_Y, bars=bars,
        line=" ".join(f"{dot.x},{dot.y}" for dot in dots), dots=dots, y_max=f"{_short(high)}{unit}" if present else "",
        first_day=f"{days[0].day:%d %b}" if days else "", last_day=f"{days[-1].day:%d %b}" if days else "",
        summary=summary, empty=not present,
    )


def usage_charts(days: Sequence[DayUsage]) -> list[DayChart]:
    """The five charts of a product's (or version's) Usage section."""
    total = Totals()
    for d in days:
        for name in ("generations", "errors", "thumbs_up", "tokens_in", "tokens_out"):
            setattr(total, name, getattr(total, name) + getattr(d.totals, name))
    rate = f"{100 * total.thumbs_up_rate:.0f} % overall" if total.generations else "no generations"
    charts = [
        day_chart(days, title="Generations per day", value=lambda t: t.generations,
                  summary=f"{total.generations} in {len(days)} days"),
        day_chart(days, title="Rated good (👍)", value=lambda t: 100 * t.thumbs_up_rate if t.generations else None,
                  unit=" %", line=True, summary=rate),
        day_chart(days, title="Time to first token, p95", value=lambda t: t.ttft_p95_ms, unit=" ms", line=True,
                  summary="95 % of answers started faster than this"),
        day_chart(days, title="Tokens per day", value=lambda t: t.tokens, summary=f"{total.tokens} tokens in all"),
        day_chart(days, title="Errors per day", value=lambda t: t.errors, summary=f"{total.errors} in all"),
    ]
    # "Nothing yet" means nothing ran: a period of generations without errors is a chart of zeros, not empty.
    return [replace(chart, empty=not total.generations) for chart in charts]


def team_usage_charts(days: Sequence[DayUsage]) -> list[DayChart]:
    """The dashboard's team usage: generations, tokens and errors per day, all products together."""
    charts = usage_charts(days)
    return [charts[0], charts[3], charts[4]]
