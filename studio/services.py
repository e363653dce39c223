"""Writes for accounts, teams, memberships and invitations."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from studio.models import AuditEvent, Invitation, Membership, Team
from studio.roles import Role, role_at_least

INVITATION_LIFETIME = timedelta(days=7)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def user_signup(*, email: str, password: str, name: str = "") -> AbstractUser:
    email = get_user_model().objects.normalize_email(email).strip().lower()
    if get_user_model().objects.filter(username=email).exists():
        raise ValidationError({"email": "An account with this email already exists. Log in instead."})
    user = get_user_model()(username=email, email=email, first_name=name.strip()[:150])
    validate_password(password, user)
    user.set_password(password)
    _user_clean(user)
    user.save()
    return user


def _user_clean(user: AbstractUser) -> None:
    """full_clean, speaking of the email: the username is the email, and Django's username rules
    (letters, digits and @.+-_ only, 150 characters) would refuse valid addresses such as o'brien@… and
    name a field nobody sees."""
    limit = user._meta.get_field("username").max_length
    if len(user.email) > limit:
        raise ValidationError({"email": f"Use an email address of at most {limit} characters; this one has "
                                        f"{len(user.email)}."})
    user.full_clean(exclude=["username"])


def _unique_team_slug(name: str) -> str:
    base = slugify(name)[:80] or "team"
    slug, n = base, 1
    while Team.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


@transaction.atomic
def team_create(*, name: str, owner: AbstractUser) -> Team:
    name = name.strip()
    if not name:
        raise ValidationError({"name": "Give the team a name."})
    team = Team(name=name, slug=_unique_team_slug(name))
    team.full_clean()
    team.save()
    Membership.objects.create(team=team, user=owner, role=Role.OWNER)
    return team


def _require_admin(actor: Membership) -> None:
    if not actor.can(Role.ADMIN):
        raise PermissionDenied("Only team admins and owners can manage members.")


@transaction.atomic
def invitation_create(
    *, actor: Membership, email: str, role: str, accept_url_for: callable
) -> tuple[Invitation, str]:
    """Create an invitation and email its link; returns the invitation and the one-time link.

    ``accept_url_for(token)`` turns a token into an absolute URL (the view knows the host).
    """
    _require_admin(actor)
    if role == Role.OWNER and not actor.can(Role.OWNER):
        raise PermissionDenied("Only owners can invite another owner.")
    email = email.strip().lower()
    if actor.team.memberships.filter(user__email__iexact=email).exists():
        raise ValidationError({"email": f"{email} is already a member of {actor.team.name}."})
    token = secrets.token_urlsafe(32)
    invitation = Invitation(
        team=actor.team,
        email=email,
        role=role,
        token_hash=hash_token(token),
        invited_by=actor.user,
        expires_at=timezone.now() + INVITATION_LIFETIME,
    )
    invitation.full_clean()
    invitation.save()
    link = accept_url_for(token)
    transaction.on_commit(
        lambda: send_mail(
            subject=f"You are invited to {actor.team.name} on AI Product Studio",
            message=(
                f"{actor.user.email} invited you to join {actor.team.name} as "
                f"{invitation.get_role_display().lower()}.\n\nAccept: {link}\n\n"
                "The link works once and expires in 7 days."
            ),
            from_email=None,
            recipient_list=[email],
        )
    )
    return invitation, link


class EmailChangeNeeded(ValidationError):
    """The signed-in account's email is not the invited one; it may take it, if the person agrees."""


@transaction.atomic
def invitation_accept(*, invitation: Invitation, user: AbstractUser, take_email: bool = False) -> Membership:
    """Join the invitation's team.

    The link went to the invited mailbox, so holding it proves that address: an account with
    another email joins only by taking the invited email as its own (``take_email``), and never
    when another account already has it.
    """
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if not invitation.is_pending:
        raise ValidationError("This invitation has already been used or has expired.")
    if user.email.lower() != invitation.email:
        _account_take_invited_email(invitation=invitation, user=user, agreed=take_email)
    try:
        with transaction.atomic():
            membership = Membership.objects.create(
                team=invitation.team, user=user, role=invitation.role
            )
    except IntegrityError:
        membership = Membership.objects.get(team=invitation.team, user=user)
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    return membership


def _account_take_invited_email(*, invitation: Invitation, user: AbstractUser, agreed: bool) -> None:
    email = invitation.email
    if get_user_model().objects.filter(username=email).exclude(pk=user.pk).exists():
        raise ValidationError(
            f"This invitation is for {email}, which has its own account. Log out, then log in as {email} to join."
        )
    if not agreed:
        raise EmailChangeNeeded(
            f"This invitation is for {email}, and you are signed in as {user.email}. Join with this account "
            f"and make {email} its email, or log out and sign up as {email}."
        )
    user.email = user.username = email  # the studio logs in by email, kept in both fields
    _user_clean(user)
    user.save(update_fields=["email", "username"])


@transaction.atomic
def user_signup_from_invitation(*, invitation: Invitation, password: str, name: str = "") -> Membership:
    """A new account for the invited email, already in the team: the link proved the mailbox."""
    if not Invitation.objects.select_for_update().get(pk=invitation.pk).is_pending:
        raise ValidationError("This invitation has already been used or has expired. Ask a team admin for a new link.")
    user = user_signup(email=invitation.email, password=password, name=name)
    return invitation_accept(invitation=invitation, user=user)


def _owner_count(team: Team) -> int:
    return team.memberships.filter(role=Role.OWNER).count()


@transaction.atomic
def membership_change_role(*, actor: Membership, membership: Membership, role: str) -> Membership:
    _require_admin(actor)
    role = Role(role)
    touches_owner = role == Role.OWNER or membership.role == Role.OWNER
    if touches_owner and not actor.can(Role.OWNER):
        raise PermissionDenied("Only owners can make or unmake owners.")
    if membership.role == Role.OWNER and role != Role.OWNER and _owner_count(membership.team) == 1:
        raise ValidationError("A team needs at least one owner. Make someone else owner first.")
    previous = membership.get_role_display()
    membership.role = role
    membership.full_clean()
    membership.save(update_fields=["role"])
    audit_record(team=membership.team, actor=actor.user, action=AuditEvent.Action.ROLE_CHANGED,
                 summary=f"{membership.user.email}: {previous} → {role.label}")
    return membership


@transaction.atomic
def membership_remove(*, actor: Membership, membership: Membership) -> None:
    leaving_self = actor.pk == membership.pk
    if not leaving_self:
        _require_admin(actor)
        if membership.role == Role.OWNER and not actor.can(Role.OWNER):
            raise PermissionDenied("Only owners can remove an owner.")
    if membership.role == Role.OWNER and _owner_count(membership.team) == 1:
        raise ValidationError("A team needs at least one owner. Make someone else owner first.")
    membership.delete()


def roles_assignable_by(actor: Membership) -> list[tuple[str, str]]:
    return [(value, label) for value, label in Role.choices if role_at_least(actor.role, value)]


def audit_record(*, team: Team, actor: AbstractUser | None, action: str, summary: str) -> AuditEvent:
    """Write one audit-log row (in the caller's transaction: it exists exactly when the change does)."""
    person = actor if actor is not None and actor.is_authenticated and actor.pk else None
    event = AuditEvent(
        team=team, actor=person, actor_email=person.email if person else "", action=AuditEvent.Action(action),
        summary=summary[:300],
    )
    event.full_clean()
    event.save()
    return event


@transaction.atomic
def team_log_retention_set(*, actor: Membership, days: int | None) -> Team:
    """Keep the team's logs ``days`` days (None: keep them); older ones go at the next purge (manage.py purge_logs)."""
    if not actor.can(Role.ADMIN):
        raise PermissionDenied("Only team admins and owners can change how long logs are kept.")
    team = Team.objects.select_for_update().get(pk=actor.team_id)
    team.log_retention_days = days
    team.full_clean()
    team.save(update_fields=["log_retention_days"])
    return team
