"""Blind comparisons: two versions of a product answer the same inputs, people pick the better answer unseen.

``Comparison`` is a leased job (inference.models.LeasedJob): the comparison worker writes both versions'
outputs for every pair through the one start path, and a crashed worker's successor resumes from the pairs
already written. ``ComparisonPair.left_is_a`` is drawn at random on the server for every pair and never
leaves it: the voting page shows "Left" and "Right" only, and a vote is stored resolved to a, b or tie.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse

from inference.models import LeasedJob

#: Fewest and most inputs one comparison writes (each is two generations).
MIN_SIZE, MAX_SIZE, DEFAULT_SIZE = 5, 50, 20


class Comparison(LeasedJob):
    """Version A against version B on the same inputs. The row is the job (see LeasedJob)."""

    #: Comparisons have workers of their own: a few dozen generations, never behind a fine-tune.
    QUEUE = "comparison"

    class Source(models.TextChoices):
        HELD_OUT = "held-out", "Held-out rows of a dataset version"
        RECENT = "recent", "The most recent real inputs (playground, widget, API)"

    team = models.ForeignKey("studio.Team", on_delete=models.CASCADE, related_name="comparisons")
    product = models.ForeignKey("products.Product", on_delete=models.CASCADE, related_name="comparisons")
    version_a = models.ForeignKey("products.ProductVersion", on_delete=models.CASCADE, related_name="+")
    version_b = models.ForeignKey("products.ProductVersion", on_delete=models.CASCADE, related_name="+")
    source = models.CharField(max_length=10, choices=Source.choices)
    # SET_NULL: the inputs were copied into the pairs; deleting the dataset version leaves the comparison whole.
    dataset_version = models.ForeignKey(
        "products.DatasetVersion", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    size = models.PositiveSmallIntegerField(default=DEFAULT_SIZE, help_text="Inputs asked for.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    pairs_total = models.PositiveSmallIntegerField(default=0)
    pairs_done = models.PositiveSmallIntegerField(default=0, help_text="Pairs finished: both outputs, or given up.")

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "queue", "priority", "created_at"], name="comparison_queue"),
            models.Index(fields=["status", "lease_expires_at"], name="comparison_lease"),
        ]
        constraints = [
            models.CheckConstraint(condition=~models.Q(version_a=models.F("version_b")),
                                   name="comparison_two_different_versions"),
        ]

    def __str__(self) -> str:
        return f"Comparison {self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("comparison", kwargs={"team_slug": self.team.slug, "product_slug": self.product.slug,
                                             "comparison_id": self.pk})

    @property
    def progress_percent(self) -> int:
        if self.status == self.Status.SUCCEEDED:
            return 100
        return min(99, round(100 * self.pairs_done / self.pairs_total)) if self.pairs_total else 0


class ComparisonPair(models.Model):
    """One input and what each version wrote for it; ``left_is_a`` says which side shows A (server only)."""

    comparison = models.ForeignKey(Comparison, on_delete=models.CASCADE, related_name="pairs")
    position = models.PositiveSmallIntegerField()
    inputs = models.JSONField(default=dict)
    left_is_a = models.BooleanField(help_text="Drawn at random per pair; never sent to a page.")
    # The kind's result payload ({text} | {text, citations} | {label, probabilities}); null until written.
    output_a = models.JSONField(null=True, blank=True)
    output_b = models.JSONField(null=True, blank=True)
    generation_a = models.ForeignKey("products.Generation", on_delete=models.SET_NULL, null=True, blank=True,
                                     related_name="+")
    generation_b = models.ForeignKey("products.Generation", on_delete=models.SET_NULL, null=True, blank=True,
                                     related_name="+")
    error = models.TextField(blank=True, help_text="Why this pair has no outputs after a retry; it is not voted on.")

    class Meta:
        ordering = ["comparison", "position"]
        constraints = [
            models.UniqueConstraint(fields=["comparison", "position"], name="comparison_pair_position"),
        ]

    def __str__(self) -> str:
        return f"Pair {self.position} of comparison {self.comparison_id}"

    @property
    def is_ready(self) -> bool:
        return self.output_a is not None and self.output_b is not None


class ComparisonVote(models.Model):
    """One person's verdict on one pair, stored resolved: which version won (a, b) or a tie."""

    class Choice(models.TextChoices):
        A = "a", "Version A"
        B = "b", "Version B"
        TIE = "tie", "Tie"

    pair = models.ForeignKey(ComparisonPair, on_delete=models.CASCADE, related_name="votes")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    choice = models.CharField(max_length=3, choices=Choice.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["pair", "user"], name="comparison_vote_one_per_person"),
        ]

    def __str__(self) -> str:
        return f"Vote {self.choice} on pair {self.pair_id}"
