"""Fine-tuning pages: start a run from a product, watch it, read its report, ship its model.

One service call per view; the run page's live updates come over the websocket (consumers.py).
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from inference.registry import BASE_MODELS
from inference.selectors import (
    training_preflight,
    training_run_artifact,
    training_run_evaluation,
    training_run_get,
    training_run_list_for_product,
    training_run_list_for_team,
    training_run_log_tail,
    training_run_points,
)
from products.base_models.selectors import fine_tunable
from products.datasets.selectors import dataset_version_list_for_kind
from products.kinds import get_kind
from products.recommendations.data import recommender_data
from products.recommendations.services import interactions_version_drop_unknown_items
from products.selectors import product_get
from products.training.chart import loss_chart
from products.training.classifier_report import cell_examples, classifier_report, threshold_outcome
from products.training.estimate import duration_words
from products.training.events import run_state
from products.training.forms import FineTuneForm, RecommenderTrainForm, big_enough_versions
from products.training.hyperparameters import MIN_TRAIN_EXAMPLES
from products.training.recommender_report import recommender_report
from products.training.services import (
    product_version_create_from_run,
    training_run_cancel,
    training_run_create,
)
from studio.access import team_view
from studio.models import Membership
from studio.roles import Role

T = "training/"


def _form_class(product):
    return RecommenderTrainForm if get_kind(product.kind).trainer == "recommender" else FineTuneForm


def _recommender_context(product, form: RecommenderTrainForm, membership: Membership) -> dict:
    """The recommender's Train tab: the two datasets, and the pre-flight of the chosen pair."""
    context = {
        "product": product, "kind": get_kind(product.kind), "form": form, "min_examples": MIN_TRAIN_EXAMPLES,
        "runs": training_run_list_for_product(product=product)[:20], "can_start": membership.can(Role.EDITOR),
        "recommender": True,
    }
    fields = form.fields
    if form.is_bound:
        if not form.is_valid():
            context["estimate_errors"] = [error for errors in form.errors.values() for error in errors]
            return context
        interactions, catalog = form.cleaned_data["dataset_version"], form.cleaned_data["catalog_version"]
    else:  # the pair the page was asked for (after a fix), else the first of each
        interactions = form.initial.get("dataset_version") or fields["dataset_version"].queryset.first()
        catalog = form.initial.get("catalog_version") or fields["catalog_version"].queryset.first()
    if interactions is not None and catalog is not None:
        data = recommender_data(catalog=catalog, interactions=interactions)
        context["preflight"] = data
        context["preflight_pair"] = (interactions, catalog)
        context["preflight_time"] = duration_words(data.expected_seconds)
        context["estimate_errors"] = data.problems
    return context


def _fine_tune_context(product, form: FineTuneForm, membership: Membership) -> dict:
    if isinstance(form, RecommenderTrainForm):
        return _recommender_context(product, form, membership)
    version = None
    if not form.is_bound:
        version = form.initial.get("dataset_version")
    elif form.is_valid():
        version = form.cleaned_data["dataset_version"]
    context = {
        "product": product, "kind": get_kind(product.kind), "form": form, "min_examples": MIN_TRAIN_EXAMPLES,
        "runs": training_run_list_for_product(product=product)[:20],
        "base_model": BASE_MODELS.get(product.base_model),
        "fine_tuning": fine_tunable(team=product.team, base_model=product.base_model),
        "can_start": membership.can(Role.EDITOR),
    }
    if version is not None:
        try:
            context["params"], context["estimate"] = training_preflight(
                version=version, overrides=form.overrides() if form.is_bound else {}, base_model=product.base_model,
                method=get_kind(product.kind).trainer or "lora",
            )
            context["estimate_version"] = version
        except ValidationError as exc:
            context["estimate_errors"] = exc.messages
    elif form.is_bound:
        context["estimate_errors"] = [
            f"{form.fields[name].label}: {error}" if name in form.fields else error
            for name, errors in form.errors.items() for error in errors
        ]
    return context


def _trainable_versions(membership: Membership, product):
    """The team's dataset versions this product can learn from (a kind may train on some of its shapes only)."""
    shapes = get_kind(product.kind).training_shapes
    return dataset_version_list_for_kind(team=membership.team, kind=product.kind, shapes=shapes or None)


@require_http_methods(["GET", "POST"])
@team_view()
def fine_tune(request: HttpRequest, membership: Membership, product_slug: str) -> HttpResponse:
    """The product's Fine-tune tab: pick a dataset version, see the estimate, start; earlier runs below."""
    product = product_get(team=membership.team, slug=product_slug)
    versions = _trainable_versions(membership, product)
    if request.method == "POST":
        if not membership.can(Role.EDITOR):
            raise PermissionDenied(f"Starting a fine-tune needs the editor role or higher in {membership.team.name}. "
                                   "Ask a team admin.")
        form = _form_class(product)(request.POST, versions=versions)
        if form.is_valid():
            try:
                run = training_run_create(
                    product=product, dataset_version=form.cleaned_data["dataset_version"], user=request.user,
                    overrides=form.overrides(), catalog_version=form.cleaned_data.get("catalog_version"),
                )
            except ValidationError as exc:
                _attach_errors(form, exc)
            else:
                # Tagged so the run page removes it once the run leaves the queue (training_run.js).
                messages.success(request, "Training queued. This page updates as it trains." if isinstance(
                    form, RecommenderTrainForm) else "Fine-tune queued. This page updates as it trains.",
                    extra_tags="run-queued")
                return redirect("training_run", team_slug=membership.team.slug, run_id=run.pk)
    elif _form_class(product) is RecommenderTrainForm:
        form = RecommenderTrainForm(versions=versions, initial=_chosen_pair(request, versions))
    else:
        # Never preselect a version too small to train on: the person would start a run that is refused.
        form = FineTuneForm(versions=versions, initial={"dataset_version": big_enough_versions(versions).first()})
    return render(request, T + "fine_tune.html", _fine_tune_context(product, form, membership))


def _chosen_pair(request: HttpRequest, versions) -> dict:
    """``?dataset_version=&catalog_version=`` as the Train tab's first choice, when they are the team's."""
    chosen = {}
    for name, shape in (("dataset_version", "interactions"), ("catalog_version", "catalog")):
        pk = request.GET.get(name, "")
        version = versions.filter(shape=shape, pk=pk).first() if pk.isdigit() else None
        if version is not None:
            chosen[name] = version
    return chosen


@require_POST
@team_view(Role.EDITOR)
def recommender_drop_unknown(request: HttpRequest, membership: Membership, product_slug: str) -> HttpResponse:
    """“Drop these N interactions”: a new interactions version without the rows naming unknown items."""
    product = product_get(team=membership.team, slug=product_slug)
    form = RecommenderTrainForm(request.POST, versions=_trainable_versions(membership, product))
    url = reverse("fine_tune", args=[membership.team.slug, product.slug])
    if not form.is_valid():
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return redirect(url)
    catalog = form.cleaned_data["catalog_version"]
    try:
        version = interactions_version_drop_unknown_items(
            interactions=form.cleaned_data["dataset_version"], catalog=catalog, user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(url)
    messages.success(request, f"Saved {version}: {version.note} It is chosen below; train on it when ready.")
    return redirect(f"{url}?dataset_version={version.pk}&catalog_version={catalog.pk}")


def _attach_errors(form: FineTuneForm, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


@require_GET
@team_view()
def fine_tune_estimate(request: HttpRequest, membership: Membership, product_slug: str) -> HttpResponse:
    """The pre-flight estimate for the form's current choices (htmx swaps it in as they change)."""
    product = product_get(team=membership.team, slug=product_slug)
    versions = _trainable_versions(membership, product)
    form = _form_class(product)(request.GET, versions=versions)
    return render(request, T + "fine_tune.html#estimate", _fine_tune_context(product, form, membership))


@require_GET
@team_view()
def run_list(request: HttpRequest, membership: Membership) -> HttpResponse:
    return render(request, T + "run_list.html", {"runs": training_run_list_for_team(team=membership.team)[:100]})


@require_GET
@team_view()
def run_detail(request: HttpRequest, membership: Membership, run_id: int) -> HttpResponse:
    """The run page; an htmx request gets the report fragment (the page asks for it when the run finishes)."""
    run = training_run_get(team=membership.team, run_id=run_id)
    points = training_run_points(run=run)
    evaluation = training_run_evaluation(run=run)
    context = {
        "run": run, "product": run.product, "state": run_state(run),
        "chart": loss_chart(points, total_steps=run.total_steps), "logs": training_run_log_tail(run=run),
        "evaluation": evaluation, "artifact": training_run_artifact(run=run),
        "scores": _score_rows(evaluation), "can_edit": membership.can(Role.EDITOR),
        "classifier": classifier_report(evaluation),
        "recommender": recommender_report(evaluation),
        "params": run.hyperparameters,
        "eta_words": duration_words(run.eta_seconds) if run.eta_seconds is not None else "",
    }
    if context["classifier"] is not None:
        # Without JavaScript the slider and the matrix's cells are plain links and forms back to this page.
        context["threshold"] = threshold_outcome(evaluation, _threshold(request, run))
        context["cell"] = _cell(request, evaluation)
    template = T + "run.html#run-report" if request.htmx else T + "run.html"
    return render(request, template, context)


def _threshold(request: HttpRequest, run) -> float:
    try:
        value = float(request.GET.get("threshold", ""))
    except ValueError:
        value = float((run.product.kind_config or {}).get("unsure_below", 0.5))
    return min(max(value, 0.0), 0.99)


def _cell(request: HttpRequest, evaluation):
    try:
        return cell_examples(evaluation, int(request.GET["true"]), int(request.GET["predicted"]))
    except (KeyError, ValueError):
        return None


@require_GET
@team_view()
def run_threshold(request: HttpRequest, membership: Membership, run_id: int) -> HttpResponse:
    """What share of the held-out texts a threshold leaves “unsure”, and the accuracy on the rest (htmx, live)."""
    run = training_run_get(team=membership.team, run_id=run_id)
    outcome = threshold_outcome(training_run_evaluation(run=run), _threshold(request, run))
    return render(request, T + "_classifier_report.html#threshold-outcome", {"run": run, "threshold": outcome})


@require_GET
@team_view()
def run_confusion_cell(request: HttpRequest, membership: Membership, run_id: int) -> HttpResponse:
    """The held-out texts of one cell of the confusion matrix (htmx swaps the list in under the matrix)."""
    run = training_run_get(team=membership.team, run_id=run_id)
    cell = _cell(request, training_run_evaluation(run=run))
    return render(request, T + "_classifier_report.html#cell-examples", {"run": run, "cell": cell})


@require_GET
@team_view()
def run_chart(request: HttpRequest, membership: Membership, run_id: int) -> HttpResponse:
    """The loss chart fragment; the run page fetches it again whenever live frames bring new points."""
    run = training_run_get(team=membership.team, run_id=run_id)
    chart = loss_chart(training_run_points(run=run), total_steps=run.total_steps)
    return render(request, T + "run.html#loss-chart", {"run": run, "chart": chart})


def _score_rows(evaluation) -> list[dict]:
    if evaluation is None:
        return []
    base, tuned = evaluation.scores.get("base", {}), evaluation.scores.get("tuned", {})
    rows = [
        ("Validation loss", evaluation.base_loss, evaluation.tuned_loss, "lower is better"),
        ("Perplexity", evaluation.base_perplexity, evaluation.tuned_perplexity, "lower is better"),
        ("BLEU", base.get("bleu"), tuned.get("bleu"), "higher is better, 0–100"),
        ("ROUGE-1", base.get("rouge1"), tuned.get("rouge1"), "higher is better, 0–100"),
        ("ROUGE-L", base.get("rougeL"), tuned.get("rougeL"), "higher is better, 0–100"),
    ]
    lower_better = {"Validation loss", "Perplexity"}
    return [
        {"label": label, "base": b, "tuned": t, "hint": hint,
         "better": b is not None and t is not None and (t < b if label in lower_better else t > b)}
        for label, b, t, hint in rows
        if b is not None or t is not None  # a run without losses (a classifier, say) has no loss rows
    ]


@require_POST
@team_view(Role.EDITOR)
def run_cancel(request: HttpRequest, membership: Membership, run_id: int) -> HttpResponse:
    run = training_run_get(team=membership.team, run_id=run_id)
    try:
        run = training_run_cancel(run=run, user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "Cancelled." if run.status == run.Status.CANCELLED
                         else "Stopping after the current step …")
    return redirect("training_run", team_slug=membership.team.slug, run_id=run.pk)


@require_POST
@team_view(Role.EDITOR)
def run_version_create(request: HttpRequest, membership: Membership, run_id: int) -> HttpResponse:
    """“Create a version with this model”: a new product version using the run's artifact."""
    run = training_run_get(team=membership.team, run_id=run_id)
    try:
        version = product_version_create_from_run(run=run, user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("training_run", team_slug=membership.team.slug, run_id=run.pk)
    messages.success(request, f"Saved version {version.number} with the fine-tuned model; the playground uses it "
                              "now too. Publish the version to make it live.")
    return redirect("versions", team_slug=membership.team.slug, product_slug=run.product.slug)
