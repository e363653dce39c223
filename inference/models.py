from __future__ import annotations

from django.conf import settings
from django.db import models


class TrainingRun(models.Model):
    """A fine-tuning job. The row is the job: workers claim it, lease it and report on it."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    team = models.ForeignKey("studio.Team", on_delete=models.CASCADE, related_name="training_runs")
    product = models.ForeignKey(
        "products.Product", on_delete=models.CASCADE, related_name="training_runs"
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Training run {self.pk} ({self.status})"
