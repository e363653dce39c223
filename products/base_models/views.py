"""The team's Models page: what the operator put in the models folder, registering and unregistering (admins)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from products.base_models.selectors import model_candidate_list, registered_model_get, registered_model_list_for_team
from products.base_models.services import registered_model_create, registered_model_delete
from studio.access import team_view
from studio.models import Membership
from studio.roles import Role


def _page(request: HttpRequest, membership: Membership, *, error: str = "", status: int = 200) -> HttpResponse:
    return render(request, "products/models.html", {
        "rows": model_candidate_list(team=membership.team),
        "registered": registered_model_list_for_team(team=membership.team),
        "can_register": membership.can(Role.ADMIN), "error": error,
    }, status=status)


@require_GET
@team_view()
def model_list(request: HttpRequest, membership: Membership) -> HttpResponse:
    return _page(request, membership)


@require_POST
@team_view()
def model_register(request: HttpRequest, membership: Membership) -> HttpResponse:
    if not membership.can(Role.ADMIN):
        raise PermissionDenied("Only team admins register models. Ask a team admin.")
    try:
        model = registered_model_create(team=membership.team, name=request.POST.get("name", ""), user=request.user)
    except ValidationError as exc:
        return _page(request, membership, error=" ".join(exc.messages), status=400)
    messages.success(request, f"“{model.name}” is registered: pick it as the base model on a product's Engine tab.")
    return redirect("model_list", team_slug=membership.team.slug)


@require_POST
@team_view()
def model_unregister(request: HttpRequest, membership: Membership, model_id: int) -> HttpResponse:
    model = registered_model_get(team=membership.team, model_id=model_id)  # another team's: 404
    if not membership.can(Role.ADMIN):
        raise PermissionDenied("Only team admins unregister models. Ask a team admin.")
    try:
        registered_model_delete(model=model)
    except ValidationError as exc:
        return _page(request, membership, error=" ".join(exc.messages), status=400)
    messages.success(request, f"“{model.name}” is unregistered: this team's products can no longer pick it. "
                              "Its files stay in the models folder.")
    return redirect("model_list", team_slug=membership.team.slug)
