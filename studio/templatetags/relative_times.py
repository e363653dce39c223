"""``{{ value|relative_time }}``: a moment as "3 minutes ago" that stays true while the page is open.

The server writes Django's own words (``naturaltime``) inside a ``<time>`` element that carries the exact
moment; ``studio/relative_times.js`` rewrites the words every 30 seconds and after each htmx swap, so a
page left open does not keep saying "just now" an hour later. The absolute time is the element's title.
"""

from __future__ import annotations

from datetime import datetime

from django import template
from django.contrib.humanize.templatetags.humanize import naturaltime
from django.utils import formats, timezone
from django.utils.html import format_html

register = template.Library()


@register.filter
def relative_time(value: datetime | None) -> str:
    """``<time datetime="…" data-relative title="2 Dec 2026, 20:14">3 minutes ago</time>``; no value → ""."""
    if not value:
        return ""
    moment = timezone.localtime(value) if timezone.is_aware(value) else value
    return format_html(
        '<time datetime="{}" data-relative title="{}">{}</time>',
        value.isoformat(), formats.date_format(moment, "DATETIME_FORMAT"), naturaltime(value),
    )
