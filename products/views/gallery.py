from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from products.forms import NewProductForm
from products.kinds import all_kinds
from products.knowledge.selectors import knowledge_version_choices, knowledge_version_get
from products.selectors import product_list_for_team, product_name_taken
from products.services import product_create
from products.views.product_settings import DUPLICATE_NAME
from studio.access import team_view
from studio.models import Membership
from studio.roles import Role


@require_GET
@team_view()
def product_list(request: HttpRequest, membership: Membership) -> HttpResponse:
    products = list(product_list_for_team(team=membership.team).select_related("live_version"))
    return render(request, "products/product_list.html", {
        "products": [product for product in products if product.archived_at is None],
        "archived": [product for product in products if product.archived_at is not None],
    })


@require_http_methods(["GET", "POST"])
@team_view(Role.EDITOR)
def product_new(request: HttpRequest, membership: Membership) -> HttpResponse:
    form = NewProductForm(request.POST or None)
    if request.method == "POST" and not form.is_valid():
        messages.error(request, " ".join(" ".join(errors) for errors in form.errors.values()))
    elif request.method == "POST":
        data = form.cleaned_data
        try:
            knowledge = None
            if data.get("knowledge_version"):
                knowledge = knowledge_version_get(team=membership.team, version_id=data["knowledge_version"])
                if knowledge is None:
                    raise ValidationError("That knowledge base is not one of your team's datasets: pick another.")
            product = product_create(
                team=membership.team, user=request.user, kind_id=data["kind"], template_id=data["template"],
                name=data["name"], knowledge_version=knowledge,
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            if product.knowledge_version_id:
                messages.success(request, f"{product.name} is ready. Its documents are being read: ask it a "
                                          "question once the status says Ready.")
            else:
                messages.success(request, f"{product.name} is ready. Fill in the inputs and press Generate.")
            if product_name_taken(team=membership.team, name=product.name, exclude=product):
                messages.warning(request, DUPLICATE_NAME.format(name=product.name))
            return redirect("playground", team_slug=membership.team.slug, product_slug=product.slug)
    planned = [kind for kind in all_kinds(include_planned=True) if not kind.available]
    return render(request, "products/gallery.html", {
        "kinds": all_kinds(), "planned": planned, "form": form,
        "knowledge_versions": list(knowledge_version_choices(team=membership.team)),
    })
