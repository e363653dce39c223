"""Template filters for the Releases and Usage pages: rates, differences and times in plain words."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def percent(rate: float | None) -> str:
    """0.1234 → "12.3 %"; no value → "–"."""
    return "–" if rate is None else f"{100 * rate:.1f} %"


@register.filter
def points(difference: float | None) -> str:
    """A difference of two rates in percentage points, signed: 0.031 → "+3.1"."""
    return "–" if difference is None else f"{100 * difference:+.1f}"


@register.filter
def ms(value: float | None) -> str:
    """Milliseconds, rounded; no value → "–"."""
    return "–" if value is None else f"{value:.0f} ms"
