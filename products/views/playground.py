from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from inference.protocol import Task
from products.forms import DraftForm, FeedbackForm
from products.kinds import get_kind
from products.kinds.inputs import input_form
from products.kinds.settings import GenerationSettings
from products.knowledge.selectors import knowledge_status
from products.models import Product
from products.selectors import generation_get, generation_list, product_get
from products.services import generation_feedback_set, product_draft_update
from studio.access import team_view
from studio.models import Membership
from studio.roles import Role

RECENT = 10  # rows in "Recent results"


def _draft_form(product: Product, data=None) -> DraftForm:
    form = DraftForm(data, initial={
        "system_prompt": product.system_prompt, "prompt_template": product.prompt_template, **product.settings,
    })
    # How many variants to write is chosen beside Generate, for each press: it is not a draft setting to save.
    del form.fields["variants"]
    return form


def _variants(product: Product) -> int:
    """The Variants control's first value: the count the draft was saved with (older drafts kept one)."""
    return GenerationSettings.from_dict(product.settings).variants


def _context(product: Product, draft_form: DraftForm) -> dict:
    kind = get_kind(product.kind)
    chat = kind.task == Task.ANSWER
    return {
        # Answer kinds are a chat: questions keep the conversation, and the knowledge base's status is shown.
        "chat": chat,
        "index_status": knowledge_status(product=product) if chat else None,
        "product": product,
        "kind": kind,
        # The same form the sockets and the API validate with (products/kinds/inputs.py).
        "input_form": input_form(kind.input_fields(product), auto_id="in-%s", label_suffix=""),
        "draft_form": draft_form,
        "recent": generation_list(product=product, limit=RECENT),
        "recent_limit": RECENT,
        # The Variants control beside Generate (kinds that would only repeat one answer have none).
        "variant_choices": range(1, kind.max_variants + 1) if kind.max_variants > 1 else (),
        "variants": min(_variants(product), kind.max_variants),
        "input_names": ", ".join("{" + f["name"] + "}" for f in product.input_schema),
    }


@require_GET
@team_view()
def playground(request: HttpRequest, membership: Membership, product_slug: str) -> HttpResponse:
    product = product_get(team=membership.team, slug=product_slug)
    return render(request, "products/playground.html", _context(product, _draft_form(product)))


@require_GET
@team_view()
def recent_results(request: HttpRequest, membership: Membership, product_slug: str) -> HttpResponse:
    """The playground's "Recent results", fetched again by htmx after a generation or a rating; the page without it."""
    product = product_get(team=membership.team, slug=product_slug)
    template = "products/playground.html#recent-results" if request.htmx else "products/playground.html"
    return render(request, template, _context(product, _draft_form(product)))


@require_POST
@team_view(Role.EDITOR)
def draft_save(request: HttpRequest, membership: Membership, product_slug: str) -> HttpResponse:
    product = product_get(team=membership.team, slug=product_slug)
    form = _draft_form(product, request.POST)
    saved = False
    if form.is_valid():
        data = form.cleaned_data
        try:
            product_draft_update(
                product=product, system_prompt=data["system_prompt"], prompt_template=data["prompt_template"],
                settings={"creativity": data["creativity"], "length": data["length"], "variants": _variants(product)},
            )
            saved = True
        except ValidationError as exc:
            form.add_error(None, exc)
    if request.htmx:
        context = _context(product, form) | {"saved": saved}
        return render(request, "products/playground.html#draft-panel", context)
    if saved:
        messages.success(request, "Draft saved.")
        return redirect("playground", team_slug=membership.team.slug, product_slug=product.slug)
    return render(request, "products/playground.html", _context(product, form))


@require_POST
@team_view()
def generation_feedback(request: HttpRequest, membership: Membership, generation_id: int) -> HttpResponse:
    generation = generation_get(team=membership.team, generation_id=generation_id)
    form = FeedbackForm(request.POST)
    if not form.is_valid():
        return HttpResponse("Feedback is 1 (good), -1 (bad) or 0 (none).", status=400)
    generation_feedback_set(generation=generation, value=form.cleaned_data["value"], user=request.user)
    if request.htmx or request.headers.get("Accept") == "application/json":
        return HttpResponse(status=204)
    return redirect("playground", team_slug=membership.team.slug, product_slug=generation.product.slug)
