"""A product's Engine tab (admins): this studio's engine, or a remote OpenAI-compatible one the operator allowed."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from products.base_models.selectors import base_model_choices, base_model_label, fine_tunable
from products.base_models.services import product_base_model_update
from products.forms import BaseModelForm, EngineForm
from products.models import Product
from products.remote_engines import RemoteEngineError, api_key_decrypt, remote_engine_check, remote_engine_choices
from products.selectors import product_get
from products.services import product_engine_update
from studio.access import team_view
from studio.models import Membership
from studio.roles import Role

ONLY_ADMINS = "Only team admins choose the engine a product runs on. Ask a team admin."


def _form(product: Product, data=None) -> EngineForm:
    choices = remote_engine_choices()
    if product.remote_engine and product.remote_engine not in dict(choices):  # removed by the operator since
        choices.append((product.remote_engine, f"{product.remote_engine} (no longer allowed)"))
    return EngineForm(data, choices=choices, initial={"remote_engine": product.remote_engine,
                                                      "remote_model": product.remote_model})


def _admin_product(membership: Membership, product_slug: str) -> Product:
    """The team's product, for a change only admins make (403 in words for others, 404 for other teams)."""
    product = product_get(team=membership.team, slug=product_slug)
    if not membership.can(Role.ADMIN):
        raise PermissionDenied(ONLY_ADMINS)
    return product


def _model_form(product: Product, data=None) -> BaseModelForm:
    choices = base_model_choices(team=product.team)
    if product.base_model not in dict(choices):  # e.g. a fine-tuned draft's base
        choices.append((product.base_model, product.base_model))
    return BaseModelForm(data, choices=choices, initial={"base_model": product.base_model})


def _page(request: HttpRequest, membership: Membership, product: Product, form: EngineForm,
          status: int = 200, model_form: BaseModelForm | None = None) -> HttpResponse:
    live = product.live_version
    return render(request, "products/engine.html", {
        "product": product, "form": form, "can_edit": membership.can(Role.ADMIN),
        "model_form": model_form or _model_form(product),
        "base_model_label": base_model_label(team=product.team, base_model=product.base_model),
        "live_model_label": live and base_model_label(team=product.team, base_model=live.base_model),
        "fine_tuning": fine_tunable(team=product.team, base_model=product.base_model)[1],
        "key_set": bool(product.remote_api_key), "live": live,
        "live_differs": live is not None and (live.remote_engine, live.remote_model) != (
            product.remote_engine, product.remote_model),
    }, status=status)


@require_http_methods(["GET", "POST"])
@team_view()
def engine_settings(request: HttpRequest, membership: Membership, product_slug: str) -> HttpResponse:
    product = product_get(team=membership.team, slug=product_slug)
    if request.method == "GET":
        return _page(request, membership, product, _form(product))
    if not membership.can(Role.ADMIN):
        raise PermissionDenied(ONLY_ADMINS)
    form = _form(product, request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            product_engine_update(product=product, remote_engine=data["remote_engine"],
                                  remote_model=data["remote_model"], api_key=data["api_key"] or None,
                                  clear_api_key=data["clear_api_key"])
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            where = f"the remote engine “{product.remote_engine}”" if product.remote_engine else "this studio"
            messages.success(request, f"The draft now runs on {where}. Try it in the playground, then save a version "
                                      "and publish it to use it in the widget and the API.")
            return redirect("engine", team_slug=membership.team.slug, product_slug=product.slug)
    return _page(request, membership, product, form, status=400)


@require_POST
@team_view()
def engine_base_model(request: HttpRequest, membership: Membership, product_slug: str) -> HttpResponse:
    product = _admin_product(membership, product_slug)
    form = _model_form(product, request.POST)
    if form.is_valid():
        try:
            product_base_model_update(product=product, base_model=form.cleaned_data["base_model"])
        except ValidationError as exc:
            form.add_error("base_model", exc.message_dict.get("base_model", exc.messages))
        else:
            label = base_model_label(team=product.team, base_model=product.base_model)
            messages.success(request, f"The draft now writes with {label}. Try it in the playground, then save a "
                                      "version and publish it.")
            return redirect("engine", team_slug=membership.team.slug, product_slug=product.slug)
    return _page(request, membership, product, _form(product), status=400, model_form=form)


@require_POST
@team_view()
def engine_check(request: HttpRequest, membership: Membership, product_slug: str) -> HttpResponse:
    """Test connection (htmx): GET /models on the engine in the form, with the typed key or the saved one."""
    product = _admin_product(membership, product_slug)
    engine = request.POST.get("remote_engine", "").strip()
    model = request.POST.get("remote_model", "").strip()
    if not engine:
        ok, message = True, "This studio's own engine answers; nothing to test."
    else:
        api_key = request.POST.get("api_key", "").strip()
        try:
            if not api_key and engine == product.remote_engine:
                api_key = api_key_decrypt(product.remote_api_key, engine=engine)
            check = remote_engine_check(engine=engine, model=model, api_key=api_key)
            ok, message = check.ok, check.message
        except RemoteEngineError as exc:
            ok, message = False, str(exc)
    return render(request, "products/engine.html#check-result", {"check": {"ok": ok, "message": message}},
                  status=200)
