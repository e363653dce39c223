"""Rename, archive, restore and delete a product (the product's Settings page)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from products.selectors import product_delete_summary, product_get, product_name_taken
from products.services import product_archive, product_delete, product_rename, product_restore
from studio.access import team_view
from studio.models import Membership
from studio.roles import Role

DUPLICATE_NAME = "Another product in this team is also called “{name}”: people may mix them up. Rename one of them?"


class RenameForm(forms.Form):
    name = forms.CharField(
        max_length=120,
        label="Name",
        error_messages={
            "required": "Give the product a name.",
            "max_length": "Keep the name to %(limit_value)d characters (it has %(show_value)d).",
        },
    )


def _settings_page(
    request: HttpRequest, membership: Membership, product, form: RenameForm | None = None, status: int = 200
) -> HttpResponse:
    return render(
        request,
        "products/product_settings.html",
        {
            "product": product,
            "rename_form": form or RenameForm(initial={"name": product.name}),
            "can_delete": membership.can(Role.ADMIN),
        },
        status=status,
    )


@require_GET
@team_view(Role.EDITOR)
def product_settings(request: HttpRequest, membership: Membership, product_slug: str) -> HttpResponse:
    return _settings_page(request, membership, product_get(team=membership.team, slug=product_slug))


@require_POST
@team_view(Role.EDITOR)
def product_rename_view(request: HttpRequest, membership: Membership, product_slug: str) -> HttpResponse:
    product = product_get(team=membership.team, slug=product_slug)
    form = RenameForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors["name"]))
        return _settings_page(request, membership, product, form, status=400)
    try:
        product_rename(product=product, name=form.cleaned_data["name"], user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return _settings_page(request, membership, product, form, status=400)
    messages.success(request, f"Renamed to “{product.name}”. Its address, API calls and widget stay the same.")
    if product_name_taken(team=membership.team, name=product.name, exclude=product):
        messages.warning(request, DUPLICATE_NAME.format(name=product.name))
    return redirect("product_settings", team_slug=membership.team.slug, product_slug=product.slug)


@require_POST
@team_view(Role.EDITOR)
def product_archive_view(request: HttpRequest, membership: Membership, product_slug: str) -> HttpResponse:
    product = product_archive(product=product_get(team=membership.team, slug=product_slug), user=request.user)
    messages.success(
        request,
        f"“{product.name}” is archived: unpublished, its widget and API answer no one. "
        "Its versions and logs are kept; restore it any time.",
    )
    return redirect("product_list", team_slug=membership.team.slug)


@require_POST
@team_view(Role.EDITOR)
def product_restore_view(request: HttpRequest, membership: Membership, product_slug: str) -> HttpResponse:
    product = product_restore(product=product_get(team=membership.team, slug=product_slug), user=request.user)
    messages.success(
        request,
        f"“{product.name}” is back. Nothing is published: publish a version on the "
        "Versions tab to make it answer again.",
    )
    return redirect("versions", team_slug=membership.team.slug, product_slug=product.slug)


@require_http_methods(["GET", "POST"])
@team_view(Role.ADMIN)
def product_delete_view(request: HttpRequest, membership: Membership, product_slug: str) -> HttpResponse:
    """GET: what deleting takes with it, named and counted; POST: delete."""
    product = product_get(team=membership.team, slug=product_slug)
    if request.method == "POST":
        try:
            product_delete(product=product, user=request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"“{product.name}” is deleted.")
            return redirect("product_list", team_slug=membership.team.slug)
    return render(
        request,
        "products/product_delete.html",
        {
            "product": product,
            "summary": product_delete_summary(product=product),
        },
        status=400 if request.method == "POST" else 200,
    )
