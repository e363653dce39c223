"""The product's Embed tab (admins) and the public widget endpoints (script and visitor feedback)."""

from __future__ import annotations

import json

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.gzip import gzip_page
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from products.embed.forms import EmbedSettingsForm, WidgetForm
from products.embed.origins import origin_allowed, same_origin
from products.embed.script import widget_script
from products.embed.selectors import product_get_by_public_key, widget_texts
from products.embed.services import (
    product_embed_update,
    product_public_key_rotate,
    product_widget_update,
    widget_feedback_set,
    widget_item_event_record,
)
from products.kinds import get_kind
from products.kinds.base import ProductKind
from products.models import Product
from products.models.product import ProductConfig
from products.selectors import product_get
from studio.access import team_view
from studio.models import Membership
from studio.roles import Role


def _settings_form(product: Product, data=None) -> EmbedSettingsForm:
    return EmbedSettingsForm(data, initial={
        "allowed_origins": "\n".join(product.allowed_origins),
        "messages_per_visitor_hour": product.widget_messages_per_visitor_hour,
        "messages_per_day": product.widget_messages_per_day,
    })


def _widget_form(product: Product, data=None) -> WidgetForm:
    kind = get_kind(product.kind)
    message = kind.message_input(product)
    return WidgetForm(data, inputs=[f for f in kind.input_fields(product) if f != message],
                      initial={name: product.widget.get(name, "") for name in ("title", "placeholder", "greeting")})


def _widget_shown(kind: ProductKind, config: ProductConfig) -> tuple:
    """What a visitor of ``config`` meets: its texts, and the defaults of the inputs their message leaves."""
    message = kind.message_input(config)
    return (widget_texts(config), tuple((f.name, f.default) for f in kind.input_fields(config) if f != message))


def _tab(request: HttpRequest, membership: Membership, product: Product, form: EmbedSettingsForm | None = None,
         widget_form: WidgetForm | None = None, status: int = 200) -> HttpResponse:
    live = product.live_version
    kind = get_kind(product.kind)
    script_url = request.build_absolute_uri(reverse("widget_script", args=[product.public_key]))
    return render(request, "products/embed.html", {
        "product": product,
        "form": form or _settings_form(product),
        "widget_form": widget_form or _widget_form(product),
        "can_edit": membership.can(Role.ADMIN),
        "script_tag": f'<script src="{script_url}" async></script>',
        "script_url": script_url,
        "message_field": kind.message_input(live or product),
        "unfilled": kind.inputs_unfilled_by_message(live) if live else [],
        "draft_unfilled": kind.inputs_unfilled_by_message(product),
        # The draft's widget texts or defaults are not what visitors get until a version with them is live.
        "widget_unpublished": live is not None and _widget_shown(kind, live) != _widget_shown(kind, product),
        "api_base": request.build_absolute_uri("/v1"),
        "generate_url": request.build_absolute_uri(reverse("api_generate", args=[product.slug])),
    }, status=status)


@require_http_methods(["GET", "POST"])
@team_view()
def embed_settings(request: HttpRequest, membership: Membership, product_slug: str) -> HttpResponse:
    product = product_get(team=membership.team, slug=product_slug)
    if request.method == "GET":
        return _tab(request, membership, product)
    if not membership.can(Role.ADMIN):
        raise PermissionDenied("Only team admins change where the widget may appear. Ask a team admin.")
    form = _settings_form(product, request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            product_embed_update(
                product=product, allowed_origins=data["allowed_origins"],
                messages_per_visitor_hour=data["messages_per_visitor_hour"], messages_per_day=data["messages_per_day"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            count = len(product.allowed_origins)
            messages.success(request, "Embed settings saved. " + (
                f"The widget works on {count} website{'s' if count != 1 else ''}." if count
                else "No website is allowed yet, so the widget works only in the preview on this page."))
            return redirect("embed", team_slug=membership.team.slug, product_slug=product.slug)
    return _tab(request, membership, product, form=form, status=400)


@require_POST
@team_view(Role.ADMIN)
def embed_widget_save(request: HttpRequest, membership: Membership, product_slug: str) -> HttpResponse:
    """Save the widget's texts and input defaults into the draft; the next published version carries them."""
    product = product_get(team=membership.team, slug=product_slug)
    form = _widget_form(product, request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            product_widget_update(product=product, defaults=form.defaults(), title=data["title"],
                                  placeholder=data["placeholder"], greeting=data["greeting"])
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Widget settings saved in the draft. Visitors get them once you save a "
                                      "version and publish it on the Versions tab.")
            return redirect("embed", team_slug=membership.team.slug, product_slug=product.slug)
    return _tab(request, membership, product, widget_form=form, status=400)


@require_GET
def widget_allowed(request: HttpRequest, public_key: str) -> HttpResponse:
    """Whether the widget may show on the page asking (its Origin): it draws its button only on a yes.

    The script tag's own request carries no Origin, so the widget asks here first, with a CORS request
    the browser sends with the page's real Origin. Any website may read the answer (it names no secret);
    no Origin, an unknown key, another website or an archived product (its chat is closed): no.
    """
    product = product_get_by_public_key(public_key=public_key)
    origin = request.headers.get("Origin")
    allowed = product is not None and product.archived_at is None and (
        origin_allowed(origin, product.allowed_origins)
        or same_origin(origin, request.get_host(), secure=request.is_secure())  # the Embed tab's preview
    )
    response = JsonResponse({"allowed": allowed}, status=200 if product is not None else 404)
    if origin:
        response["Access-Control-Allow-Origin"] = origin
    response["Vary"] = "Origin"
    response["Cache-Control"] = "no-store"  # a changed allow-list applies at the next page load
    return response


@require_POST
@team_view(Role.ADMIN)
def embed_key_rotate(request: HttpRequest, membership: Membership, product_slug: str) -> HttpResponse:
    product = product_get(team=membership.team, slug=product_slug)
    product_public_key_rotate(product=product)
    messages.success(request, "The widget has a new key. Replace the script tag on your websites: the old one has "
                              "stopped working.")
    return redirect("embed", team_slug=membership.team.slug, product_slug=product.slug)


@require_GET
@gzip_page  # the Markdown libraries are most of the script, and compress to a third
def widget_script_view(request: HttpRequest, public_key: str) -> HttpResponse:
    """The widget for one product. Loading it is harmless anywhere; it only shows on allowed websites."""
    product = product_get_by_public_key(public_key=public_key)
    if product is None:
        return HttpResponse("/* Unknown widget key: copy the script tag again from the product's Embed tab. */",
                            status=404, content_type="text/javascript; charset=utf-8")
    socket_scheme = "wss" if request.is_secure() else "ws"
    kind = get_kind(product.kind)
    source = widget_script(scripts=kind.renderer_scripts, config={
        "publicKey": product.public_key,
        "socketUrl": f"{socket_scheme}://{request.get_host()}/ws/widget/{product.public_key}/",
        "allowedUrl": request.build_absolute_uri(reverse("widget_allowed", args=[product.public_key])),
        "feedbackUrl": request.build_absolute_uri(reverse("widget_feedback", args=[product.public_key])),
        **widget_texts(product.live_version or product),
        # "rank": the widget shows "Recommended for you" cards for the items the host page says were viewed.
        "task": str(kind.task),
    })
    response = HttpResponse(source, content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = "public, max-age=300"
    response["Access-Control-Allow-Origin"] = "*"  # a public script; lets sites load it with integrity checks
    return response


def _cors(response: HttpResponse, origin: str | None) -> HttpResponse:
    if origin:
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Allow-Methods"] = "POST, OPTIONS"
        response["Access-Control-Allow-Headers"] = "Content-Type"
        response["Access-Control-Max-Age"] = "600"
    response["Vary"] = "Origin"
    return response


@csrf_exempt  # no cookies are involved: the per-generation token is the authorisation
@require_http_methods(["POST", "OPTIONS"])
def widget_feedback(request: HttpRequest, public_key: str) -> HttpResponse:
    """A visitor's 👍/👎 on one widget answer, or a click on one of its recommendation cards: public key +
    generation id + that generation's token."""
    product = product_get_by_public_key(public_key=public_key)
    origin = request.headers.get("Origin")
    allowed = product is not None and (
        origin is None or origin_allowed(origin, product.allowed_origins)
        or origin == f"{request.scheme}://{request.get_host()}"
    )
    if not allowed:
        return _cors(JsonResponse({"error": "This website may not rate answers of this chat."}, status=403), None)
    if request.method == "OPTIONS":
        return _cors(HttpResponse(status=204), origin)
    try:
        body = json.loads(request.body or b"{}")
        generation_id, token = int(body["generation"]), str(body["token"])
        event = str(body["event"]) if "event" in body else None
        value = int(body["value"]) if event is None else 0
        item = str(body.get("item") or "")
    except (ValueError, KeyError, TypeError):
        return _cors(JsonResponse(
            {"error": 'Send {"generation": <id>, "token": "<feedback_token>", "value": 1, -1 or 0}, or "event": '
                      '"click" or "purchase" with the recommended "item" instead of "value".'}, status=400
        ), origin)
    try:
        if event is not None:
            recorded = widget_item_event_record(product=product, generation_id=generation_id, token=token,
                                                kind=event, item=item)
            return _cors(JsonResponse({"generation": generation_id, "event": recorded.kind,
                                       "item": recorded.item}), origin)
        generation = widget_feedback_set(product=product, generation_id=generation_id, token=token, value=value)
    except PermissionDenied as exc:
        return _cors(JsonResponse({"error": str(exc)}, status=403), origin)
    except ValidationError as exc:
        return _cors(JsonResponse({"error": " ".join(exc.messages)}, status=400), origin)
    return _cors(JsonResponse({"generation": generation.pk, "feedback": generation.feedback}), origin)
