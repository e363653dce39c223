"""A/B releases (a candidate version for a share of traffic) and the daily usage rollups every dashboard reads."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models


class Release(models.Model):
    """A split: ``share_percent`` of visitors get ``candidate``; everyone else gets the live version.

    At most one split runs per product (stopped_at empty). Which arm a visitor lands on is
    products.releases.assignment.arm_for, a pure function of (product, release, stable id).
    """

    class Outcome(models.TextChoices):
        RUNNING = "", "Running"
        PROMOTED = "promoted", "Promoted: the candidate is live for everyone"
        STOPPED = "stopped", "Stopped: everyone went back to the live version"

    team = models.ForeignKey("studio.Team", on_delete=models.CASCADE, related_name="releases")
    product = models.ForeignKey("products.Product", on_delete=models.CASCADE, related_name="releases")
    candidate = models.ForeignKey("products.ProductVersion", on_delete=models.CASCADE, related_name="+")
    # The live version when the split started (for the page; the main arm always serves the live version).
    control = models.ForeignKey("products.ProductVersion", on_delete=models.SET_NULL, null=True, related_name="+")
    share_percent = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(99)])
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.RUNNING, blank=True)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    started_at = models.DateTimeField(auto_now_add=True)
    stopped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(fields=["product"], condition=models.Q(stopped_at__isnull=True),
                                    name="one_running_release_per_product"),
        ]

    def __str__(self) -> str:
        return f"Release {self.pk}: v{self.candidate.number} at {self.share_percent} %"

    @property
    def running(self) -> bool:
        return self.stopped_at is None

    @property
    def control_percent(self) -> int:
        """The share that keeps the live version."""
        return 100 - self.share_percent


class UsageRollup(models.Model):
    """Finished generations of one (product, version, release, arm, channel, day), counted once each.

    Written by products.releases.rollups when a generation finishes and when its feedback changes, so
    dashboards and release pages read a few rows per day instead of every Generation. ``version_number``
    is 0 for the draft and ``release_pk`` 0 outside a split (plain integers: a nullable key would not be
    unique in PostgreSQL). ``ttft_histogram`` counts times to first token in the fixed buckets of
    products.releases.histogram, so p50/p95 come out the same on PostgreSQL and SQLite.
    """

    team = models.ForeignKey("studio.Team", on_delete=models.CASCADE, related_name="+")
    product = models.ForeignKey("products.Product", on_delete=models.CASCADE, related_name="usage_rollups")
    version_number = models.PositiveIntegerField(default=0)
    release_pk = models.PositiveIntegerField(default=0)
    arm = models.CharField(max_length=10, blank=True)
    channel = models.CharField(max_length=12)
    day = models.DateField()
    generations = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    thumbs_up = models.IntegerField(default=0)
    thumbs_down = models.IntegerField(default=0)
    corrected = models.PositiveIntegerField(default=0, help_text="Generations with at least one correction.")
    clicked = models.PositiveIntegerField(default=0, help_text="Generations with a click on a recommended item.")
    purchased = models.PositiveIntegerField(default=0, help_text="Generations with a purchase of a recommended item.")
    tokens_in = models.PositiveBigIntegerField(default=0)
    tokens_out = models.PositiveBigIntegerField(default=0)
    ttft_histogram = models.JSONField(default=list)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["product", "version_number", "release_pk", "arm", "channel", "day"],
                                    name="usage_rollup_unique"),
        ]
        indexes = [models.Index(fields=["team", "day"]), models.Index(fields=["product", "release_pk"])]

    def __str__(self) -> str:
        return f"{self.product_id} v{self.version_number} {self.arm or '-'} {self.channel} {self.day}"
