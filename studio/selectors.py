"""Reads for teams and members. Every team lookup goes through a user's memberships."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet
from django.http import Http404

from studio.models import AuditEvent, Invitation, Membership, Team
from studio.services import hash_token


def team_list_for_user(user: AbstractBaseUser) -> QuerySet[Team]:
    if not user.is_authenticated:
        return Team.objects.none()
    return Team.objects.filter(memberships__user=user).order_by("name")


def membership_get_for_user(*, user: AbstractBaseUser, team_slug: str) -> Membership:
    """The user's membership of the team, or 404: other teams' existence is not disclosed."""
    if not user.is_authenticated:
        raise Http404("No such team.")
    try:
        return Membership.objects.select_related("team", "user").get(
            user=user, team__slug=team_slug
        )
    except Membership.DoesNotExist:
        raise Http404("No such team.") from None


def member_list(*, team: Team) -> QuerySet[Membership]:
    return team.memberships.select_related("user").order_by("user__email")


def member_get(*, team: Team, membership_id: int) -> Membership:
    try:
        return team.memberships.select_related("user").get(pk=membership_id)
    except Membership.DoesNotExist:
        raise Http404("No such member.") from None


def invitation_list_pending(*, team: Team) -> list[Invitation]:
    return [i for i in team.invitations.filter(accepted_at__isnull=True) if i.is_pending]


def invitation_get_by_token(*, token: str) -> Invitation:
    try:
        return Invitation.objects.select_related("team", "invited_by").get(
            token_hash=hash_token(token)
        )
    except Invitation.DoesNotExist:
        raise Http404("This invitation link is not valid.") from None


def audit_event_list(*, team: Team, limit: int = 500) -> QuerySet[AuditEvent]:
    return team.audit_events.order_by("-created_at", "-pk")[:limit]
