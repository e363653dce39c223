"""Keep UsageRollup rows in step with generations: once when one finishes, then as its feedback changes.

Called inside the transactions of products.services (generation_finish, generation_feedback_set) and of
feedback_event_record, so a rollup never counts what was rolled back. Each generation is counted once:
generation_finish only calls in when it moved the row out of "running", feedback moves by the change
from the old value to the new one, and an event kind counts on a generation's first event of that kind.
"""

from __future__ import annotations

from datetime import UTC

from django.db.models import Exists, F, OuterRef

from products.models import FeedbackEvent, Generation, UsageRollup
from products.releases.histogram import histogram_add

#: FeedbackEvent kinds counted per generation (at most once each) and their rollup column.
EVENT_COLUMNS = {
    FeedbackEvent.Kind.CORRECTION: "corrected",
    FeedbackEvent.Kind.CLICK: "clicked",
    FeedbackEvent.Kind.PURCHASE: "purchased",
}


#: What people asked for: other channels (a blind comparison's worker) are not usage and stay out of the rollups.
TRAFFIC_CHANNELS = frozenset({Generation.Channel.PLAYGROUND, Generation.Channel.WIDGET, Generation.Channel.API})


def _key(generation: Generation) -> dict:
    """The (product, version, release, arm, channel, day) whose rollup row counts ``generation``."""
    return {
        "product_id": generation.product_id,
        "version_number": generation.version.number if generation.version_id else 0,
        "release_pk": generation.release_id or 0,
        "arm": generation.arm,
        "channel": generation.channel,
        "day": generation.created_at.astimezone(UTC).date(),
    }


def _row(generation: Generation) -> UsageRollup:
    """The locked rollup row of ``generation``'s (product, version, release, arm, channel, day)."""
    row, _ = UsageRollup.objects.select_for_update().get_or_create(**_key(generation),
                                                                   defaults={"team_id": generation.team_id})
    return row


def rollup_generation_finished(*, generation_id: int) -> None:
    """Count a generation that has just ended (its caller guarantees this happens once per generation).

    It runs before the worker sends the result, so it is on every generation's way to its answer: the
    events are read with the generation (one query), and a row that needs no time-to-first-token bucket is
    counted by one UPDATE of its counters instead of a locked read and a write.
    """
    events = FeedbackEvent.objects.filter(generation=OuterRef("pk"))
    generation = Generation.objects.select_related("version").annotate(**{
        f"has_{kind}": Exists(events.filter(kind=kind)) for kind in EVENT_COLUMNS
    }).get(pk=generation_id)
    if generation.channel not in TRAFFIC_CHANNELS:
        return
    counts = {
        "generations": 1,
        "errors": int(generation.status == Generation.Status.FAILED),
        "thumbs_up": int(generation.feedback == 1),
        "thumbs_down": int(generation.feedback == -1),
        "tokens_in": generation.tokens_in,
        "tokens_out": generation.tokens_out,
        **{column: int(getattr(generation, f"has_{kind}")) for kind, column in EVENT_COLUMNS.items()},
    }
    if generation.time_to_first_token_ms is None and UsageRollup.objects.filter(**_key(generation)).update(
            **{column: F(column) + count for column, count in counts.items() if count}):
        return  # counted in place (atomic); the day's first generation of its key creates the row below
    row = _row(generation)
    for column, count in counts.items():
        setattr(row, column, getattr(row, column) + count)
    if generation.time_to_first_token_ms is not None:
        row.ttft_histogram = histogram_add(row.ttft_histogram, generation.time_to_first_token_ms)
    row.save()


def rollup_feedback_changed(*, generation: Generation, old: int, new: int) -> None:
    """Move a finished generation's 👍/👎 from ``old`` to ``new`` (running ones are counted as they finish)."""
    if old == new or generation.status == Generation.Status.RUNNING or generation.channel not in TRAFFIC_CHANNELS:
        return
    row = _row(generation)
    row.thumbs_up += (new == 1) - (old == 1)
    row.thumbs_down += (new == -1) - (old == -1)
    row.save(update_fields=["thumbs_up", "thumbs_down"])


def rollup_event_recorded(*, event: FeedbackEvent) -> None:
    """Count a correction, click or purchase: the first of its kind on a finished generation only."""
    column = EVENT_COLUMNS.get(event.kind)
    if column is None or event.generation_id is None:
        return
    generation = Generation.objects.select_related("version").get(pk=event.generation_id)
    if generation.status == Generation.Status.RUNNING or generation.channel not in TRAFFIC_CHANNELS:
        return
    if generation.feedback_events.filter(kind=event.kind).exclude(pk=event.pk).exists():
        return
    row = _row(generation)
    setattr(row, column, getattr(row, column) + 1)
    row.save(update_fields=[column])
