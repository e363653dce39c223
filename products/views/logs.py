"""A product's Logs tab: the filtered list (htmx table, links without JS), one generation in full, corrections,
exports and "add to a dataset"."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from products.kinds import get_kind
from products.logs.export import FORMATS, export_filename, export_response
from products.logs.forms import AddToDatasetForm, CorrectionForm, LogFilterForm
from products.logs.selectors import (
    generation_correction_labels,
    generation_feedback_history,
    generation_log_filter,
    generation_log_get,
    generation_log_good_and_corrected,
    generation_log_page,
    generation_log_selection,
)
from products.logs.services import generation_correct, generation_dataset_export
from products.models import Generation, Product
from products.selectors import product_get
from studio.access import team_view
from studio.models import Membership
from studio.roles import Role

#: How a generation ended (its finish reason), in words.
ENDINGS = {
    "eos": "Finished", "stop": "Finished at a stop sequence", "length": "Reached the length limit",
    "cancelled": "Stopped before the end", "time_limit": "Took too long and was stopped", "error": "Failed",
}
FILTER_NAMES = ("version", "channel", "feedback", "date_from", "date_to", "q")
EXPORT_FORMAT_ERROR = "Export format is csv or jsonl, e.g. ?format=csv."


def _filter_query(data: QueryDict) -> QueryDict:
    """The filters of a request, without the page: what export links and "older" links carry along."""
    query = QueryDict(mutable=True)
    for name in FILTER_NAMES:
        if data.get(name):
            query[name] = data[name]
    return query


def _inputs_in_order(inputs: dict, product: Product) -> list[tuple[str, object]]:
    """(label, value) of each input, in the product's order of inputs, then any it no longer has (the database may
    keep the keys in another order: PostgreSQL's jsonb sorts them by length)."""
    inputs = inputs or {}
    labels = {field["name"]: field.get("label") or field["name"] for field in product.input_schema}
    names = [name for name in labels if name in inputs] + [name for name in inputs if name not in labels]
    return [(labels.get(name, name), inputs[name]) for name in names]


def input_summary(inputs: dict, product: Product) -> str:
    """A generation's inputs on one line, for the list (the detail page shows each)."""
    return " · ".join(str(value) for _, value in _inputs_in_order(inputs, product) if value not in (None, ""))


def _list_context(request: HttpRequest, membership: Membership, product: Product) -> dict:
    form = LogFilterForm(request.GET, product=product)
    form.is_valid()
    before = form.cleaned_data.get("before") if "before" not in form.errors else None
    page = generation_log_page(product=product, filters=form.filters(), before=before)
    query = _filter_query(request.GET)
    older = query.copy()
    if page.next_before:
        older["before"] = page.next_before
    return {
        "product": product, "kind": get_kind(product.kind), "form": form,
        "rows": [(generation, input_summary(generation.inputs, product)) for generation in page.rows],
        "first_page": before is None, "filter_query": query.urlencode(),
        "older_query": older.urlencode() if page.next_before else "",
        "can_edit": membership.can(Role.EDITOR),
        "add_form": AddToDatasetForm(product=product) if membership.can(Role.EDITOR) else None,
        "filter_fields": [(name, query[name]) for name in FILTER_NAMES if name in query],
    }


@require_GET
@team_view()
def log_list(request: HttpRequest, membership: Membership, product_slug: str) -> HttpResponse:
    product = product_get(team=membership.team, slug=product_slug)
    context = _list_context(request, membership, product)
    template = "products/logs.html#log-table" if request.htmx else "products/logs.html"
    return render(request, template, context)


def _detail_context(membership: Membership, product: Product, generation: Generation,
                    form: CorrectionForm | None = None) -> dict:
    kind = get_kind(product.kind)
    labels = generation_correction_labels(generation=generation) if kind.correction == "label" else []
    result = generation.result if isinstance(generation.result, dict) else {}
    probabilities = sorted(result.get("probabilities", {}).items(), key=lambda item: -item[1])
    return {
        "product": product, "kind": kind, "generation": generation,
        "history": generation_feedback_history(generation=generation),
        "can_correct": bool(kind.correction) and membership.can(Role.EDITOR),
        "correction_form": form or CorrectionForm(labels=labels, initial={
            "text": generation.correction or generation.output, "label": generation.correction,
        }),
        "probabilities": [(label, value, round(value * 100)) for label, value in probabilities],
        # Read here, not in the template: a dict's ``items`` there is its method when the key is missing.
        "citations": result.get("citations") or [], "items": result.get("items") or [],
        "inputs": _inputs_in_order(generation.inputs, product),
        "ending": ENDINGS.get(generation.finish_reason, generation.finish_reason or generation.get_status_display()),
    }


@require_GET
@team_view()
def log_detail(request: HttpRequest, membership: Membership, product_slug: str, generation_id: int) -> HttpResponse:
    product = product_get(team=membership.team, slug=product_slug)
    generation = generation_log_get(product=product, generation_id=generation_id)
    return render(request, "products/log_detail.html", _detail_context(membership, product, generation))


@require_POST
@team_view(Role.EDITOR)
def log_correct(request: HttpRequest, membership: Membership, product_slug: str, generation_id: int) -> HttpResponse:
    product = product_get(team=membership.team, slug=product_slug)
    generation = generation_log_get(product=product, generation_id=generation_id)
    labels = generation_correction_labels(generation=generation)
    form = CorrectionForm(request.POST, labels=labels)
    status = 200
    if form.is_valid():
        try:
            generation_correct(generation=generation, user=request.user, text=form.cleaned_data["text"],
                               label=form.cleaned_data["label"])
        except ValidationError as exc:
            form.add_error(None, exc)  # a dict of errors lands on its fields (text, label), a message on the form
            status = 400
        else:
            if not request.htmx:
                messages.success(request, "Correction saved. It is used when you add this answer to a dataset.")
                return redirect("log_detail", membership.team.slug, product.slug, generation.pk)
            form = None
    else:
        status = 400
    context = _detail_context(membership, product, generation, form) | {"saved": form is None}
    template = "products/log_detail.html#correction-panel" if request.htmx else "products/log_detail.html"
    return render(request, template, context, status=status)


def _asgi(request: HttpRequest) -> bool:
    return isinstance(getattr(request, "_request", request), ASGIRequest)


@require_GET
@team_view()
def log_export(request: HttpRequest, membership: Membership, product_slug: str) -> HttpResponse:
    """The generations the filters match, as a CSV or JSON Lines attachment, streamed."""
    product = product_get(team=membership.team, slug=product_slug)
    fmt = request.GET.get("format", "csv")
    if fmt not in FORMATS:
        return HttpResponse(EXPORT_FORMAT_ERROR, status=400, content_type="text/plain; charset=utf-8")
    form = LogFilterForm(request.GET, product=product)
    form.is_valid()
    generations = generation_log_filter(product=product, filters=form.filters())
    return export_response(generations, fmt=fmt, filename=export_filename(product), asgi=_asgi(request))


@require_POST
@team_view(Role.EDITOR)
def log_add_to_dataset(request: HttpRequest, membership: Membership, product_slug: str) -> HttpResponse:
    product = product_get(team=membership.team, slug=product_slug)
    form = AddToDatasetForm(request.POST, product=product)
    back = reverse("logs", args=[membership.team.slug, product.slug])
    query = _filter_query(request.POST).urlencode()
    if not form.is_valid():
        messages.error(request, " ".join(error for errors in form.errors.values() for error in errors))
        return redirect(f"{back}?{query}" if query else back)
    data = form.cleaned_data
    if data["which"] == AddToDatasetForm.GOOD_AND_CORRECTED:
        filters_form = LogFilterForm(request.POST, product=product)
        filters_form.is_valid()
        generations = generation_log_good_and_corrected(product=product, filters=filters_form.filters())
    else:
        generations = generation_log_selection(product=product, ids=data["ids"])
    try:
        result = generation_dataset_export(product=product, generations=generations, user=request.user,
                                           dataset=data["dataset"], name=data["name"].strip())
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(f"{back}?{query}" if query else back)
    messages.success(request, result.summary() + " Fine-tune on it from the Fine-tune tab.")
    return redirect("dataset_version", membership.team.slug, result.version.dataset_id, result.version.number)
