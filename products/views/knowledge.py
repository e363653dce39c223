"""A Q&A product's Knowledge tab: which documents it answers from, how it uses them, how far reading them has got."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from products.forms import KnowledgeDocumentsForm, KnowledgeForm
from products.kinds import get_kind
from products.knowledge.documents import knowledge_documents_upload
from products.knowledge.selectors import knowledge_status, knowledge_version_choices
from products.models import Product
from products.selectors import product_get
from products.services import product_knowledge_update
from studio.access import team_view
from studio.models import Membership
from studio.roles import Role


def _answer_product(membership: Membership, product_slug: str) -> Product:
    product = product_get(team=membership.team, slug=product_slug)
    if not product.answers_from_knowledge:
        raise Http404("This product does not answer from a knowledge base.")
    return product


def _initial(product: Product) -> dict:
    config = product.kind_config or {}
    return {"knowledge_version": product.knowledge_version_id, **{
        name: config.get(name) for name in ("top_k", "threshold", "abstain_text", "handoff")}}


@require_http_methods(["GET", "POST"])
@team_view()
def knowledge_settings(request: HttpRequest, membership: Membership, product_slug: str) -> HttpResponse:
    product = _answer_product(membership, product_slug)
    versions = knowledge_version_choices(team=membership.team)
    if request.method == "POST":
        if not membership.can(Role.EDITOR):
            raise Http404  # the page's form is not shown to viewers; a forged post finds nothing
        form = KnowledgeForm(request.POST, versions=versions, initial=_initial(product))
        if form.is_valid():
            data = form.cleaned_data
            try:
                product_knowledge_update(
                    product=product, knowledge_version=data["knowledge_version"],
                    kind_config={name: data[name] for name in ("top_k", "threshold", "abstain_text", "handoff")},
                )
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                messages.success(request, "Knowledge settings saved to the draft. Save a version and publish it "
                                          "to use them in the widget and the API.")
                return redirect("knowledge_settings", team_slug=membership.team.slug, product_slug=product.slug)
    else:
        form = KnowledgeForm(versions=versions, initial=_initial(product))
    return _page(request, product, form=form, versions=versions)


def _page(request: HttpRequest, product: Product, *, form: KnowledgeForm, versions,
          documents_form: KnowledgeDocumentsForm | None = None) -> HttpResponse:
    return render(request, "products/knowledge.html", {
        "product": product, "form": form, "index_status": knowledge_status(product=product),
        "has_versions": versions.exists(), "documents_form": documents_form or KnowledgeDocumentsForm(),
        "default_threshold": getattr(get_kind(product.kind), "default_threshold", None),
    })


@require_POST
@team_view(Role.ADMIN)
def knowledge_documents(request: HttpRequest, membership: Membership, product_slug: str) -> HttpResponse:
    """Markdown, HTML or PDF pages → a dataset of sections the draft then answers from (admins manage datasets)."""
    product = _answer_product(membership, product_slug)
    documents_form = KnowledgeDocumentsForm(request.POST, request.FILES)
    if documents_form.is_valid():
        try:
            version = knowledge_documents_upload(team=membership.team, user=request.user, product=product,
                                                 files=documents_form.cleaned_data["files"],
                                                 name=documents_form.cleaned_data["name"])
        except ValidationError as exc:
            errors = exc.message_dict if hasattr(exc, "error_dict") else {None: exc.messages}
            for field, problems in errors.items():
                documents_form.add_error(field if field in documents_form.fields else None, problems)
        else:
            messages.success(request, f"Saved {version} ({version.row_count} passage"
                                      f"{'' if version.row_count == 1 else 's'}, one per section). The draft now "
                                      "answers from it; reading it has started.")
            return redirect("knowledge_settings", team_slug=membership.team.slug, product_slug=product.slug)
    versions = knowledge_version_choices(team=membership.team)
    return _page(request, product, form=KnowledgeForm(versions=versions, initial=_initial(product)),
                 versions=versions, documents_form=documents_form)


@require_GET
@team_view()
def knowledge_status_partial(request: HttpRequest, membership: Membership, product_slug: str) -> HttpResponse:
    """The status line alone: the page polls it every 2 s while the documents are read."""
    product = _answer_product(membership, product_slug)
    return render(request, "products/_index_status.html",
                  {"product": product, "status": knowledge_status(product=product)})
