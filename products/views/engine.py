"""A product's Engine tab (admins): this studio's engine, or a remote OpenAI-compatible one the operator allowed."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from products.forms import EngineForm
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


def _page(request: HttpRequest, membership: Membership, product: Product, form: EngineForm,
          status: int = 200) -> HttpResponse:
    live = product.live_version
    return render(request, "products/engine.html", {
        "product": product, "form": form, "can_edit": membership.can(Role.ADMIN),
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
def engine_check(request: HttpRequest, membership: Membership, product_slug: str) -> HttpResponse:
    """Test connection (htmx): GET /models on the engine in the form, with the typed key or the saved one."""
    product = product_get(team=membership.team, slug=product_slug)
    if not membership.can(Role.ADMIN):
        raise PermissionDenied(ONLY_ADMINS)
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
