from __future__ import annotations

from django.conf import settings
from django.db import models


class Generation(models.Model):
    """One generated text: who asked, through which channel, what came out and how fast."""

    class Channel(models.TextChoices):
        PLAYGROUND = "playground", "Playground"
        WIDGET = "widget", "Widget"
        API = "api", "API"
        COMPARISON = "comparison", "Blind comparison"  # written by the comparison worker, not by visitors

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        FINISHED = "finished", "Finished"
        FAILED = "failed", "Failed"

    team = models.ForeignKey("studio.Team", on_delete=models.CASCADE, related_name="generations")
    product = models.ForeignKey("products.Product", on_delete=models.CASCADE, related_name="generations")
    version = models.ForeignKey(
        "products.ProductVersion", on_delete=models.SET_NULL, null=True, blank=True,
        related_name="generations", help_text="Empty when the draft generated it.",
    )
    channel = models.CharField(max_length=12, choices=Channel.choices, default=Channel.PLAYGROUND)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    inputs = models.JSONField(default=dict)
    variant = models.PositiveSmallIntegerField(default=0)
    output = models.TextField(blank=True, help_text="The text written (searchable); `result` holds the kind's payload.")
    result = models.JSONField(
        default=dict, blank=True,
        help_text='{"text"} | {"text", "citations"} | {"items": [...]} | {"label", "probabilities"}',
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    finish_reason = models.CharField(max_length=12, blank=True)
    error = models.TextField(blank=True)
    tokens_in = models.PositiveIntegerField(default=0)
    tokens_out = models.PositiveIntegerField(default=0)
    time_to_first_token_ms = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    feedback = models.SmallIntegerField(default=0, help_text="1 thumbs up, -1 thumbs down, 0 none.")
    # Who asked, as the A/B split saw them: the widget's random visitor id, the API's `user` field or
    # X-Studio-Visitor header, else "user:<pk>" (signed in) or "key:<pk>" (API key). Never an address.
    visitor = models.CharField(max_length=64, blank=True)
    # The release split it ran under (empty outside one) and its arm there.
    release = models.ForeignKey("products.Release", on_delete=models.SET_NULL, null=True, blank=True,
                                related_name="generations")
    arm = models.CharField(max_length=10, blank=True, help_text='"control", "candidate", or empty outside a split.')
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["product", "-created_at"])]

    def __str__(self) -> str:
        return f"Generation {self.pk} of {self.product_id}"


class FeedbackEvent(models.Model):
    """Something a person did with one result: a rating, a click or purchase of a recommended item, a correction.

    Generation.feedback keeps the latest 👍/👎 for the logs; these rows are the history that releases and
    datasets aggregate (per arm, per item), one row per event.
    """

    class Kind(models.TextChoices):
        RATING = "rating", "Rating"
        CLICK = "click", "Click on a recommended item"
        PURCHASE = "purchase", "Purchase of a recommended item"
        CORRECTION = "correction", "Corrected answer or label"

    team = models.ForeignKey("studio.Team", on_delete=models.CASCADE, related_name="feedback_events")
    product = models.ForeignKey("products.Product", on_delete=models.CASCADE, related_name="feedback_events")
    generation = models.ForeignKey(Generation, on_delete=models.CASCADE, null=True, blank=True,
                                   related_name="feedback_events")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    item = models.CharField(max_length=200, blank=True, help_text="The recommended item's id (click, purchase).")
    value = models.JSONField(default=dict, blank=True,
                             help_text='{"rating": 1} | {"label": "billing"} | {"text": "the corrected answer"}')
    channel = models.CharField(max_length=12, choices=Generation.Channel.choices, default=Generation.Channel.PLAYGROUND)
    visitor = models.CharField(max_length=64, blank=True, help_text="A widget visitor's random id, never an address.")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                             related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["product", "kind", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.kind} on generation {self.generation_id}"
