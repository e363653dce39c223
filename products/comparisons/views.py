"""A product's Compare pages: start a blind comparison, follow it, vote on its pairs, read the result.

Editors start comparisons (they spend the team's generation time, as the playground does); every member,
viewers included, may vote and read the results. The voting page never names a version: each pair shows
"Left" and "Right" in an order drawn on the server, and the form carries only the pair's id and a side.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from products.comparisons.forms import ComparisonForm
from products.comparisons.selectors import (
    comparison_get,
    comparison_list,
    comparison_pair_get,
    comparison_pair_next,
    comparison_pairs_failed,
    comparison_tally,
    comparison_user_progress,
)
from products.comparisons.services import comparison_create, comparison_vote_cast
from products.datasets.selectors import dataset_version_list_for_kind
from products.kinds import get_kind
from products.models import Comparison, Product
from products.selectors import product_get, product_version_list
from studio.access import team_view
from studio.models import Membership
from studio.roles import Role

T = "products/comparisons/"


def _comparison(membership: Membership, product_slug: str, comparison_id: int) -> tuple[Product, Comparison]:
    """The team's product and its comparison, or 404 for anyone outside the team."""
    product = product_get(team=membership.team, slug=product_slug)
    return product, comparison_get(product=product, comparison_id=comparison_id)


def _form(product: Product, membership: Membership, data=None) -> ComparisonForm:
    versions = product_version_list(product=product)
    initial = {}
    if product.live_version_id:
        initial["version_a"] = product.live_version_id
        newest_other = versions.exclude(pk=product.live_version_id).first()
        initial["version_b"] = newest_other.pk if newest_other else None
    return ComparisonForm(data, initial=initial, versions=versions,
                          dataset_versions=dataset_version_list_for_kind(team=membership.team, kind=product.kind))


def _list_page(request: HttpRequest, product: Product, form: ComparisonForm, *, status: int = 200) -> HttpResponse:
    return render(request, T + "list.html", {
        "product": product, "form": form, "comparisons": comparison_list(product=product),
        "version_count": product_version_list(product=product).count(),
    }, status=status)


@require_GET
@team_view()
def comparison_list_page(request: HttpRequest, membership: Membership, product_slug: str) -> HttpResponse:
    product = product_get(team=membership.team, slug=product_slug)
    return _list_page(request, product, _form(product, membership))


@require_POST
@team_view(Role.EDITOR)
def comparison_start(request: HttpRequest, membership: Membership, product_slug: str) -> HttpResponse:
    product = product_get(team=membership.team, slug=product_slug)
    form = _form(product, membership, request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            comparison = comparison_create(
                product=product, version_a=data["version_a"], version_b=data["version_b"], source=data["source"],
                dataset_version=data["dataset_version"], size=data["size"], user=request.user,
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items() if hasattr(exc, "error_dict") else [(None, exc.messages)]:
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, f"Comparison started: both versions are writing {comparison.pairs_total} "
                                      "answers each. You can vote as soon as it is ready.")
            return redirect(comparison)
    return _list_page(request, product, form, status=400)


@require_GET
@team_view()
def comparison_detail(request: HttpRequest, membership: Membership, product_slug: str,
                      comparison_id: int) -> HttpResponse:
    """The comparison's progress and results; an htmx request (the progress bar polling) gets the status alone."""
    product, comparison = _comparison(membership, product_slug, comparison_id)
    voted, ready = comparison_user_progress(comparison=comparison, user=request.user)
    context = {
        "product": product, "comparison": comparison, "tally": comparison_tally(comparison=comparison),
        "voted": voted, "ready": ready, "failed_pairs": comparison_pairs_failed(comparison=comparison)[:5],
    }
    return render(request, T + ("detail.html#status" if request.htmx else "detail.html"), context)


@require_GET
@team_view()
def comparison_vote_page(request: HttpRequest, membership: Membership, product_slug: str,
                         comparison_id: int) -> HttpResponse:
    """The next pair this person has not judged: the inputs, then two answers labelled Left and Right only."""
    product, comparison = _comparison(membership, product_slug, comparison_id)
    pair = comparison_pair_next(comparison=comparison, user=request.user)
    voted, ready = comparison_user_progress(comparison=comparison, user=request.user)
    kind = get_kind(product.kind)
    sides = None
    if pair is not None:
        left, right = (pair.output_a, pair.output_b) if pair.left_is_a else (pair.output_b, pair.output_a)
        sides = [("left", "Left", kind.result_text(left)), ("right", "Right", kind.result_text(right))]
    labels = {field.name: field.label for field in kind.input_fields(comparison.version_a)}
    return render(request, T + "vote.html", {
        "product": product, "comparison": comparison, "pair": pair, "sides": sides, "voted": voted, "ready": ready,
        "inputs": [(labels.get(name, name), value) for name, value in (pair.inputs.items() if pair else [])],
    })


@require_POST
@team_view()
def comparison_vote(request: HttpRequest, membership: Membership, product_slug: str,
                    comparison_id: int) -> HttpResponse:
    product, comparison = _comparison(membership, product_slug, comparison_id)
    try:
        pair = comparison_pair_get(comparison=comparison, pair_id=int(request.POST.get("pair", "")))
    except ValueError:
        messages.error(request, "That vote did not say which pair it was for; vote again below.")
    else:
        try:
            comparison_vote_cast(pair=pair, user=request.user, side=request.POST.get("side", ""))
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
    return redirect("comparison_vote", team_slug=membership.team.slug, product_slug=product.slug,
                    comparison_id=comparison.pk)
