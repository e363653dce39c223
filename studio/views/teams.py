from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from products.logs.retention import visitor_data_delete
from studio.access import team_view
from studio.forms import InviteForm, LogRetentionForm, RoleForm, TeamForm, VisitorDeleteForm
from studio.models import Membership
from studio.roles import DESCRIPTIONS, Role
from studio.selectors import (
    audit_event_list,
    invitation_get_by_token,
    invitation_list_pending,
    member_get,
    member_list,
)
from studio.services import (
    EmailChangeNeeded,
    invitation_accept,
    invitation_create,
    membership_change_role,
    membership_remove,
    roles_assignable_by,
    team_create,
    team_log_retention_set,
)


@login_required
@require_http_methods(["GET", "POST"])
def team_new(request: HttpRequest) -> HttpResponse:
    form = TeamForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            team = team_create(name=form.cleaned_data["name"], owner=request.user)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"{team.name} is ready. You are its owner.")
            return redirect("dashboard", team_slug=team.slug)
    return render(request, "studio/team_new.html", {"form": form})


def _members_context(membership: Membership, invite_form: InviteForm | None = None) -> dict:
    assignable = roles_assignable_by(membership)
    return {
        "members": member_list(team=membership.team),
        "invitations": invitation_list_pending(team=membership.team),
        "invite_form": invite_form or InviteForm(allowed_roles=assignable),
        "assignable_roles": assignable,
        "role_descriptions": [(Role(r).label, DESCRIPTIONS[Role(r)]) for r in reversed(Role)],
        "can_manage": membership.can(Role.ADMIN),
    }


@team_view()
def members(request: HttpRequest, membership: Membership) -> HttpResponse:
    return render(request, "studio/members.html", _members_context(membership))


@require_POST
@team_view(Role.ADMIN)
def member_invite(request: HttpRequest, membership: Membership) -> HttpResponse:
    form = InviteForm(request.POST, allowed_roles=roles_assignable_by(membership))
    context_extra = {}
    if form.is_valid():
        try:
            _, link = invitation_create(
                actor=membership,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                accept_url_for=lambda token: request.build_absolute_uri(
                    reverse("invitation_accept", args=[token])
                ),
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            context_extra = {"new_invite_link": link, "new_invite_email": form.cleaned_data["email"]}
            form = None
    context = _members_context(membership, form) | context_extra
    template = "studio/members.html#invite-panel" if request.htmx else "studio/members.html"
    return render(request, template, context)


@require_POST
@team_view(Role.ADMIN)
def member_change_role(request: HttpRequest, membership: Membership, member_id: int) -> HttpResponse:
    target = member_get(team=membership.team, membership_id=member_id)
    form = RoleForm(request.POST)
    if form.is_valid():
        try:
            membership_change_role(actor=membership, membership=target, role=form.cleaned_data["role"])
            messages.success(request, f"{target.user.email} is now {target.get_role_display()}.")
        except (ValidationError, PermissionDenied) as exc:
            messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
    return redirect("members", team_slug=membership.team.slug)


@require_POST
@team_view()
def member_remove(request: HttpRequest, membership: Membership, member_id: int) -> HttpResponse:
    target = member_get(team=membership.team, membership_id=member_id)
    leaving = target.pk == membership.pk
    try:
        membership_remove(actor=membership, membership=target)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
        return redirect("members", team_slug=membership.team.slug)
    if leaving:
        messages.success(request, f"You left {membership.team.name}.")
        return redirect("home")
    messages.success(request, f"{target.user.email} was removed from the team.")
    return redirect("members", team_slug=membership.team.slug)


@require_http_methods(["GET", "POST"])
def invitation_accept_view(request: HttpRequest, token: str) -> HttpResponse:
    invitation = invitation_get_by_token(token=token)
    if request.method == "POST" and request.user.is_authenticated:
        try:
            accepted = invitation_accept(
                invitation=invitation, user=request.user, take_email=request.POST.get("take_email") == "1"
            )
        except EmailChangeNeeded:
            pass  # the page offers the choice
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"Welcome to {accepted.team.name}.")
            return redirect("dashboard", team_slug=accepted.team.slug)
    return render(request, "studio/invitation.html", {"invitation": invitation, "token": token})


@team_view(Role.ADMIN)
def audit_log(request: HttpRequest, membership: Membership) -> HttpResponse:
    return render(request, "studio/audit_log.html", {"events": audit_event_list(team=membership.team)})


def _settings_page(request: HttpRequest, membership: Membership, *, retention_form=None, visitor_form=None,
                   status: int = 200) -> HttpResponse:
    return render(request, "studio/team_settings.html", {
        "retention_form": retention_form or LogRetentionForm(
            initial={"log_retention_days": membership.team.log_retention_days}),
        "visitor_form": visitor_form or VisitorDeleteForm(),
    }, status=status)


@require_http_methods(["GET", "POST"])
@team_view(Role.ADMIN)
def team_settings(request: HttpRequest, membership: Membership) -> HttpResponse:
    """How long the team keeps its logs."""
    if request.method == "GET":
        return _settings_page(request, membership)
    form = LogRetentionForm(request.POST)
    if not form.is_valid():
        return _settings_page(request, membership, retention_form=form, status=400)
    days = form.cleaned_data["log_retention_days"]
    team_log_retention_set(actor=membership, days=days)
    messages.success(request, f"Logs are kept {days} days." if days else "Logs are kept until you delete them.")
    return redirect("team_settings", team_slug=membership.team.slug)


@require_POST
@team_view(Role.ADMIN)
def team_visitor_delete(request: HttpRequest, membership: Membership) -> HttpResponse:
    """Delete what the team holds about one widget visitor."""
    form = VisitorDeleteForm(request.POST)
    if not form.is_valid():
        return _settings_page(request, membership, visitor_form=form, status=400)
    visitor = form.cleaned_data["visitor"].strip()
    deleted = visitor_data_delete(team=membership.team, visitor=visitor)
    messages.success(request, f"Deleted {deleted} {'record' if deleted == 1 else 'records'} of visitor {visitor}.")
    return redirect("team_settings", team_slug=membership.team.slug)
