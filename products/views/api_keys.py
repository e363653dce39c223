"""The team's API keys page: admins create (the secret is shown once), list and revoke keys."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from products.api.selectors import api_key_get, api_key_list_for_team
from products.api.services import api_key_create, api_key_revoke
from products.embed.forms import ApiKeyForm
from studio.access import team_view
from studio.models import Membership
from studio.roles import Role


@require_http_methods(["GET", "POST"])
@team_view(Role.ADMIN)
def api_key_list(request: HttpRequest, membership: Membership) -> HttpResponse:
    form = ApiKeyForm(request.POST or None)
    created = None
    if request.method == "POST" and form.is_valid():
        try:
            created = api_key_create(team=membership.team, user=request.user, name=form.cleaned_data["name"],
                                     scope=form.cleaned_data["scope"])
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            form = ApiKeyForm()
    return render(request, "products/api_keys.html", {
        "form": form,
        "created": created,  # rendered in this response only: the secret is never stored or shown again
        "keys": api_key_list_for_team(team=membership.team),
        "docs_url": request.build_absolute_uri("/api/docs/"),
        "api_base": request.build_absolute_uri("/api/v1/"),
        "openai_base": request.build_absolute_uri("/v1"),
    })


@require_POST
@team_view(Role.ADMIN)
def api_key_revoke_view(request: HttpRequest, membership: Membership, key_id: int) -> HttpResponse:
    api_key = api_key_revoke(api_key=api_key_get(team=membership.team, key_id=key_id), user=request.user)
    messages.success(request, f"“{api_key.name}” is revoked: requests with it are refused from now on.")
    return redirect("api_keys", team_slug=membership.team.slug)
