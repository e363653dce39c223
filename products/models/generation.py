from __future__ import annotations

from django.conf import settings
from django.db import models


class Generation(models.Model):
    """One generated text: who asked, through which channel, what came out and how fast."""

    class Channel(models.TextChoices):
        PLAYGROUND = "playground", "Playground"
        WIDGET = "widget", "Widget"
        API = "api", "API"

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
    output = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    finish_reason = models.CharField(max_length=12, blank=True)
    error = models.TextField(blank=True)
    tokens_in = models.PositiveIntegerField(default=0)
    tokens_out = models.PositiveIntegerField(default=0)
    time_to_first_token_ms = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    feedback = models.SmallIntegerField(default=0, help_text="1 thumbs up, -1 thumbs down, 0 none.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["product", "-created_at"])]

    def __str__(self) -> str:
        return f"Generation {self.pk} of {self.product_id}"
