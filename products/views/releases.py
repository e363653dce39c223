"""The product's Releases tab (A/B splits between versions) and its Usage tab (plots from the rollups)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from inference.protocol import Task
from products.kinds import get_kind
from products.releases.chart import usage_charts
from products.releases.selectors import (
    release_get,
    release_list,
    release_report,
    release_running,
    usage_by_day,
    usage_totals,
)
from products.releases.services import release_promote, release_start, release_stop
from products.selectors import product_get, product_version_list
from studio.access import team_view
from studio.models import Membership
from studio.roles import Role

PERIODS = (7, 30, 90)


class ReleaseStartForm(forms.Form):
    candidate = forms.ModelChoiceField(
        queryset=None, label="Version to try", empty_label=None,
        help_text="It answers a share of visitors; everyone else keeps the live version.",
        error_messages={"invalid_choice": "Pick one of this product's saved versions that is not live."},
    )
    share_percent = forms.IntegerField(
        min_value=1, max_value=99, initial=20, label="Share of visitors (%)",
        help_text="Each visitor stays on the same version for the whole split.",
    )

    def __init__(self, *args, product, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["candidate"]
        field.queryset = product_version_list(product=product).exclude(pk=product.live_version_id)
        field.label_from_instance = lambda v: f"Version {v.number}" + (f" · {v.note}" if v.note else "")


def _redirect(membership: Membership, product) -> HttpResponse:
    return redirect("releases", team_slug=membership.team.slug, product_slug=product.slug)


@require_GET
@team_view()
def releases(request: HttpRequest, membership: Membership, product_slug: str) -> HttpResponse:
    product = product_get(team=membership.team, slug=product_slug)
    running = release_running(product=product)
    return render(request, "products/releases.html", {
        "product": product, "running": running, "report": release_report(release=running) if running else None,
        "form": ReleaseStartForm(product=product), "past": release_list(product=product).exclude(stopped_at=None),
    })


@require_GET
@team_view()
def release_detail(request: HttpRequest, membership: Membership, product_slug: str, release_id: int) -> HttpResponse:
    product = product_get(team=membership.team, slug=product_slug)
    release = release_get(product=product, release_id=release_id)
    return render(request, "products/release_detail.html", {
        "product": product, "report": release_report(release=release),
    })


@require_POST
@team_view(Role.EDITOR)
def release_new(request: HttpRequest, membership: Membership, product_slug: str) -> HttpResponse:
    product = product_get(team=membership.team, slug=product_slug)
    form = ReleaseStartForm(request.POST, product=product)
    if form.is_valid():
        try:
            release = release_start(product=product, candidate=form.cleaned_data["candidate"],
                                    share_percent=form.cleaned_data["share_percent"], user=request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"Version {release.candidate.number} now answers {release.share_percent} % "
                                      "of visitors.")
            return _redirect(membership, product)
    else:
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
    return _redirect(membership, product)


def _end(request: HttpRequest, membership: Membership, product_slug: str, release_id: int, *, promote: bool):
    product = product_get(team=membership.team, slug=product_slug)
    release = release_get(product=product, release_id=release_id)
    try:
        release = (release_promote if promote else release_stop)(release=release, user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Version {release.candidate.number} is live for everyone." if promote else
                         "Split stopped: everyone gets the live version again.")
    return _redirect(membership, product)


@require_POST
@team_view(Role.EDITOR)
def release_promote_view(request: HttpRequest, membership: Membership, product_slug: str,
                         release_id: int) -> HttpResponse:
    return _end(request, membership, product_slug, release_id, promote=True)


@require_POST
@team_view(Role.EDITOR)
def release_stop_view(request: HttpRequest, membership: Membership, product_slug: str,
                      release_id: int) -> HttpResponse:
    return _end(request, membership, product_slug, release_id, promote=False)


def _int_param(request: HttpRequest, name: str, default: int | None, allowed=None) -> int | None:
    try:
        value = int(request.GET.get(name, ""))
    except ValueError:
        return default
    return value if allowed is None or value in allowed else default


@require_GET
@team_view()
def usage(request: HttpRequest, membership: Membership, product_slug: str) -> HttpResponse:
    """Plots per day for the product, or one version (``?version=3``), over ``?days=7|30|90``."""
    product = product_get(team=membership.team, slug=product_slug)
    days = _int_param(request, "days", 30, PERIODS)
    numbers = list(product_version_list(product=product).values_list("number", flat=True))
    version = _int_param(request, "version", None, numbers)
    by_day = usage_by_day(team=membership.team, product=product, version_number=version, days=days)
    # Recommendations are judged by what people click and buy: their counts head the section.
    ranks = get_kind(product.kind).task == Task.RANK
    template = "products/usage.html#usage-charts" if request.htmx else "products/usage.html"
    return render(request, template, {"product": product, "charts": usage_charts(by_day), "days": days,
                                      "periods": PERIODS, "version": version, "numbers": numbers,
                                      "item_totals": usage_totals(by_day) if ranks else None})
