"""A Q&A product's Evaluation tab: measure its retrieval on test questions, read the misses, take the threshold."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from products.forms import EvaluationForm
from products.knowledge.evaluation import knowledge_evaluation_create, knowledge_evaluation_threshold_use
from products.knowledge.selectors import (
    evaluation_figures,
    evaluation_misses,
    evaluation_suggestion,
    evaluation_test_set_choices,
    evaluation_version_choices,
    knowledge_evaluation_get,
    knowledge_evaluations_for,
    knowledge_status,
)
from products.views.knowledge import _answer_product
from studio.access import team_view
from studio.models import Membership
from studio.roles import Role


@require_http_methods(["GET", "POST"])
@team_view()
def evaluation(request: HttpRequest, membership: Membership, product_slug: str) -> HttpResponse:
    product = _answer_product(membership, product_slug)
    versions = evaluation_test_set_choices(team=membership.team)
    product_versions = evaluation_version_choices(product=product)
    form = EvaluationForm(versions=versions, product_versions=product_versions)
    if request.method == "POST":
        if not membership.can(Role.EDITOR):
            raise Http404  # the page's form is not shown to viewers; a forged post finds nothing
        form = EvaluationForm(request.POST, versions=versions, product_versions=product_versions)
        if form.is_valid():
            try:
                job = knowledge_evaluation_create(product=product, test_version=form.cleaned_data["test_version"],
                                                  version=form.cleaned_data["version"], user=request.user)
            except ValidationError as exc:
                errors = exc.message_dict if hasattr(exc, "error_dict") else {None: exc.messages}
                for field, problems in errors.items():
                    form.add_error(field if field in form.fields else None, problems)
            else:
                messages.success(request, "Evaluation started: each question is searched as the assistant would.")
                return redirect("evaluation_report", team_slug=membership.team.slug, product_slug=product.slug,
                                evaluation_id=job.pk)
    return render(request, "products/evaluation.html", {
        "product": product, "form": form, "evaluations": knowledge_evaluations_for(product=product),
        "has_test_sets": versions.exists(), "index_status": knowledge_status(product=product),
    })


def _report(request: HttpRequest, membership: Membership, product_slug: str, evaluation_id: int,
            template: str) -> HttpResponse:
    product = _answer_product(membership, product_slug)
    evaluation = knowledge_evaluation_get(product=product, evaluation_id=evaluation_id)
    finished = evaluation.status == evaluation.Status.SUCCEEDED
    return render(request, template, {
        "product": product, "evaluation": evaluation,
        "misses": evaluation_misses(evaluation=evaluation) if finished else [], "polling": not evaluation.is_finished,
        "figures": evaluation_figures(evaluation=evaluation) if finished else [],
        "suggestion": evaluation_suggestion(evaluation=evaluation) if finished else None,
        "draft_threshold": (product.kind_config or {}).get("threshold"),
    })


@require_GET
@team_view()
def evaluation_report(request: HttpRequest, membership: Membership, product_slug: str,
                      evaluation_id: int) -> HttpResponse:
    return _report(request, membership, product_slug, evaluation_id, "products/evaluation_report.html")


@require_GET
@team_view()
def evaluation_report_partial(request: HttpRequest, membership: Membership, product_slug: str,
                              evaluation_id: int) -> HttpResponse:
    """The report body alone: the page polls it every 2 s until the evaluation is done."""
    return _report(request, membership, product_slug, evaluation_id, "products/_evaluation_report.html")


@require_POST
@team_view(Role.EDITOR)
def evaluation_threshold_use(request: HttpRequest, membership: Membership, product_slug: str,
                             evaluation_id: int) -> HttpResponse:
    product = _answer_product(membership, product_slug)
    evaluation = knowledge_evaluation_get(product=product, evaluation_id=evaluation_id)
    try:
        product = knowledge_evaluation_threshold_use(product=product, evaluation=evaluation)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"“How sure before answering” is now {product.kind_config['threshold']:.3g} on the "
                                  "draft. Save a version and publish it to use it in the widget and the API.")
    return redirect("evaluation_report", team_slug=membership.team.slug, product_slug=product.slug,
                    evaluation_id=evaluation.pk)
