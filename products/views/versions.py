from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from products.forms import VersionForm
from products.kinds import get_kind
from products.kinds.inputs import InputError, clean_inputs, input_form
from products.models import DatasetVersion
from products.recommendations.selectors import newer_catalog
from products.recommendations.services import product_catalog_update
from products.releases.selectors import release_running
from products.selectors import product_get, product_version_get, product_version_list
from products.services import (
    product_kind_config_update,
    product_version_create,
    product_version_diff,
    product_version_publish,
)
from products.versions.selectors import version_detail_get
from products.versions.services import product_draft_load
from studio.access import team_view
from studio.models import Membership
from studio.roles import Role


@require_GET
@team_view()
def version_list(request: HttpRequest, membership: Membership, product_slug: str) -> HttpResponse:
    product = product_get(team=membership.team, slug=product_slug)
    versions = list(product_version_list(product=product))
    rows = []
    for index, version in enumerate(versions):
        older = versions[index + 1].config() if index + 1 < len(versions) else None
        rows.append({"version": version, "changes": product_version_diff(older, version.config())})
    draft_changes = product_version_diff(versions[0].config(), product.config()) if versions else None
    kind = get_kind(product.kind)
    config_form = (input_form(kind.config_fields, prefix="config", initial=kind.config_initial(product.kind_config))
                   if kind.config_fields else None)
    live = product.live_version
    return render(request, "products/versions.html", {
        "product": product, "rows": rows, "form": VersionForm(), "config_form": config_form,
        "draft_changed": draft_changes != ["No changes to the settings."] if versions else True,
        "running": release_running(product=product),
        # A recommender whose catalog has a newer version: “Use the new catalog” (None for every other product).
        "newer_catalog": newer_catalog(product=product),
        # After a roll-back the draft usually still holds the newer version's settings: offer the live ones.
        "offer_reset": bool(live and versions and live.number < versions[0].number
                            and product.config() != live.config()),
    })


@require_GET
@team_view()
def version_detail(request: HttpRequest, membership: Membership, product_slug: str, number: int) -> HttpResponse:
    """One version's full settings and what its prompt and system prompt changed since the version before."""
    product = product_get(team=membership.team, slug=product_slug)
    version = product_version_get(product=product, number=number)
    return render(request, "products/version_detail.html", {
        "product": product, "detail": version_detail_get(product=product, version=version),
    })


@require_POST
@team_view(Role.EDITOR)
def version_load(request: HttpRequest, membership: Membership, product_slug: str, number: int) -> HttpResponse:
    """Replace the draft with this version's settings (the roll-back offer posts the live version here)."""
    product = product_get(team=membership.team, slug=product_slug)
    version = product_version_get(product=product, number=number)
    try:
        product_draft_load(product=product, version=version, user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("version_detail", team_slug=membership.team.slug, product_slug=product.slug, number=number)
    messages.success(request, f"The draft now has version {version.number}'s settings. Try it in the playground; "
                              "save it as a new version to keep changes.")
    return redirect("playground", team_slug=membership.team.slug, product_slug=product.slug)


@require_POST
@team_view(Role.EDITOR)
def version_create(request: HttpRequest, membership: Membership, product_slug: str) -> HttpResponse:
    product = product_get(team=membership.team, slug=product_slug)
    form = VersionForm(request.POST)
    if form.is_valid():
        version = product_version_create(product=product, user=request.user, note=form.cleaned_data["note"])
        messages.success(request, f"Saved version {version.number}. Publish it to make it live.")
    return redirect("versions", team_slug=membership.team.slug, product_slug=product.slug)


@require_POST
@team_view(Role.EDITOR)
def version_kind_config(request: HttpRequest, membership: Membership, product_slug: str) -> HttpResponse:
    """The kind's own settings (a classifier's “unsure below”), saved as a new version."""
    product = product_get(team=membership.team, slug=product_slug)
    kind = get_kind(product.kind)
    prefix = "config-"
    data = {key.removeprefix(prefix): value for key, value in request.POST.items() if key.startswith(prefix)}
    try:
        changes = {name: value for name, value in clean_inputs(kind.config_fields, data).items() if name in data}
        version = product_kind_config_update(product=product, user=request.user, changes=changes)
    except InputError as exc:
        messages.error(request, str(exc))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Saved version {version.number}: {version.note} Publish it to make it live.")
    return redirect("versions", team_slug=membership.team.slug, product_slug=product.slug)


@require_POST
@team_view(Role.EDITOR)
def version_catalog(request: HttpRequest, membership: Membership, product_slug: str) -> HttpResponse:
    """“Use the new catalog”: a new version of the recommender that also recommends the catalog's new items."""
    product = product_get(team=membership.team, slug=product_slug)
    catalog = get_object_or_404(DatasetVersion.objects.select_related("dataset"), pk=request.POST.get("catalog") or 0,
                                dataset__team=membership.team)
    try:
        version = product_catalog_update(product=product, user=request.user, catalog=catalog)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Saved version {version.number}: {version.note} Publish it to make it live.")
    return redirect("versions", team_slug=membership.team.slug, product_slug=product.slug)


@require_POST
@team_view(Role.EDITOR)
def version_publish(request: HttpRequest, membership: Membership, product_slug: str, number: int) -> HttpResponse:
    product = product_get(team=membership.team, slug=product_slug)
    version = product_version_get(product=product, number=number)
    previous = product.live_version
    try:
        # During an A/B split the form says what happens to it (stop or keep); the service refuses without.
        product_version_publish(product=product, version=version, user=request.user, split=request.POST.get("split"))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("versions", team_slug=membership.team.slug, product_slug=product.slug)
    if previous and previous.number > version.number:
        messages.success(request, f"Rolled back: version {version.number} is live again.")
    else:
        messages.success(request, f"Version {version.number} is live.")
    return redirect("versions", team_slug=membership.team.slug, product_slug=product.slug)
