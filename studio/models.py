from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from studio.roles import Role, role_at_least

#: The longest a team may ask to keep its logs (ten years); longer is "keep them" (empty).
LOG_RETENTION_MAX_DAYS = 3650


class Team(models.Model):
    name = models.CharField(max_length=80)
    slug = models.SlugField(max_length=90, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    log_retention_days = models.PositiveIntegerField(
        null=True, blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(LOG_RETENTION_MAX_DAYS)],
        help_text="Generations and feedback older than this many days are deleted (manage.py purge_logs); "
                  "empty keeps them.",
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="teams"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="one_membership_per_team")
        ]
        ordering = ["team__name", "user__email"]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.role})"

    def can(self, minimum_role: str) -> bool:
        return role_at_least(self.role, minimum_role)


class Invitation(models.Model):
    """A link that lets whoever holds it join a team. Only the token's hash is stored."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.EDITOR)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Invitation for {self.email} to {self.team}"

    @property
    def is_pending(self) -> bool:
        return self.accepted_at is None and self.expires_at > timezone.now()


class AuditEvent(models.Model):
    """Who did something that changes a team's access or what its customers see. Rows are never edited."""

    class Action(models.TextChoices):
        API_KEY_CREATED = "api_key.created", "Created an API key"
        API_KEY_REVOKED = "api_key.revoked", "Revoked an API key"
        ROLE_CHANGED = "member.role_changed", "Changed a member's role"
        VERSION_PUBLISHED = "version.published", "Published a version"
        VERSION_LOADED = "version.loaded", "Loaded a version into the draft"
        PRODUCT_RENAMED = "product.renamed", "Renamed a product"
        PRODUCT_ARCHIVED = "product.archived", "Archived a product"
        PRODUCT_RESTORED = "product.restored", "Restored a product"
        PRODUCT_DELETED = "product.deleted", "Deleted a product"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="audit_events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_email = models.EmailField(blank=True, help_text="Kept when the account is deleted.")
    action = models.CharField(max_length=40, choices=Action.choices)
    summary = models.CharField(max_length=300)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["team", "-created_at"], name="audit_team_recent")]

    def __str__(self) -> str:
        return f"{self.actor_email or 'someone'}: {self.get_action_display()} ({self.team})"
