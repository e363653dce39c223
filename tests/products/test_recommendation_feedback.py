"""Clicks and purchases on recommended items, reported by the shop's backend (REST) or the widget's cards.

They are FeedbackEvents counted in the usage rollups: the product's Usage tab shows recommendations served,
clicks, purchases and the click-through rate. No model here: the generations are recorded as the worker would.
"""

from __future__ import annotations

import json

import pytest
from django.core.cache import cache
from django.urls import reverse

from products.api.services import api_key_create
from products.embed.services import product_embed_update
from products.embed.tokens import feedback_token
from products.models import FeedbackEvent
from products.services import (
    generation_create,
    generation_finish,
    product_create,
    product_version_create,
    product_version_publish,
)
from tests.api.conftest import bearer

pytestmark = pytest.mark.django_db

SHOP = "https://shop.example"
CARDS = {"items": [{"id": item, "title": f"Item {item}", "score": 0.5, "reason": "Similar to Tent"}
                   for item in ("CA002", "KI012", "CO022")]}


@pytest.fixture
def served(shop_reco):
    """(product, owner, API secret, [3 API generations, 1 widget generation]) of finished recommendations."""
    cache.clear()
    _, owner, product = shop_reco
    version = product_version_create(product=product, user=owner)
    product_version_publish(product=product, version=version)
    product_embed_update(product=product, allowed_origins=[SHOP], messages_per_visitor_hour=20, messages_per_day=100)
    generations = []
    for channel in ("api", "api", "api", "widget"):
        generation = generation_create(product=product, version=version, channel=channel, user=None,
                                       inputs={"items": ["CA001"]}, visitor="v-123" if channel == "widget" else "")
        generation_finish(generation_id=generation.pk, output="", finish_reason="stop", tokens_in=0, tokens_out=0,
                          time_to_first_token_s=None, duration_s=0.01, result=CARDS)
        generations.append(generation)
    secret = api_key_create(team=product.team, user=owner, name="Shop backend", scope="generate").secret
    return product, owner, secret, generations


def _report(api, product, generation, event: str, item: str):
    return api.post(f"/api/v1/products/{product.slug}/feedback/",
                    {"generation": generation.pk, "event": event, "item": item}, format="json")


def test_clicks_and_purchases_reported_back_show_on_the_products_usage_page(served, client):
    product, owner, secret, (first, second, third, widget) = served
    api = bearer(secret)
    clicked = _report(api, product, first, "click", "KI012")
    assert clicked.status_code == 201
    assert {key: clicked.json()[key] for key in ("generation", "event", "item")} == {
        "generation": first.pk, "event": "click", "item": "KI012"}
    assert _report(api, product, first, "click", "CO022").status_code == 201  # a second card of the same list
    assert _report(api, product, second, "purchase", "CA002").status_code == 201

    # The widget's cards report a click with the answer's token, from the shop's website.
    body = {"generation": widget.pk, "token": feedback_token(public_key=product.public_key, generation_id=widget.pk),
            "event": "click", "item": "CA002"}
    response = client.post(f"/embed/{product.public_key}/feedback/", json.dumps(body),
                           content_type="application/json", HTTP_ORIGIN=SHOP)
    assert response.json() == {"generation": widget.pk, "event": "click", "item": "CA002"}
    assert response["Access-Control-Allow-Origin"] == SHOP
    event = FeedbackEvent.objects.get(generation=widget)
    assert (event.kind, event.item, event.channel, event.visitor) == ("click", "CA002", "widget", "v-123")
    forged = client.post(f"/embed/{product.public_key}/feedback/", json.dumps({**body, "generation": third.pk}),
                         content_type="application/json", HTTP_ORIGIN=SHOP)
    assert forged.status_code == 403 and forged.json() == {"error": "This rating link is not valid for that answer."}
    assert FeedbackEvent.objects.count() == 4

    client.force_login(owner)
    page = client.get(reverse("usage", args=[product.team.slug, product.slug])).content.decode()
    assert ("<dt>Recommendations served</dt><dd>4</dd>" in page and "<dt>Clicked</dt><dd>2</dd>" in page
            and "<dt>Bought</dt><dd>1</dd>" in page)
    assert "<dt>Click-through rate</dt><dd>50 %</dd>" in page  # two of four lists clicked, however many cards


def test_a_report_on_an_item_the_list_did_not_show_is_refused_and_nothing_is_counted(served):
    product, _, secret, (first, *_) = served
    api = bearer(secret)
    wrong = _report(api, product, first, "purchase", "CA001")
    assert wrong.status_code == 400
    assert wrong.json()["item"] == ["“CA001” is not one of the items this generation recommended "
                                    "(CA002, KI012, CO022)."]
    assert _report(api, product, first, "like", "CA002").status_code == 400
    missing = api.post(f"/api/v1/products/{product.slug}/feedback/", {"event": "click"}, format="json")
    assert set(missing.json()) == {"generation", "item"}
    assert not FeedbackEvent.objects.exists()


def test_another_team_gets_404_for_the_feedback_route_and_the_generations(served, make_team):
    product, _, _, (first, *_) = served
    other = make_team("Elsewhere")
    owner = other.memberships.get().user
    stranger = bearer(api_key_create(team=other, user=owner, name="Theirs", scope="generate").secret)
    assert _report(stranger, product, first, "click", "KI012").status_code == 404
    theirs = product_create(team=other, user=owner, kind_id="recommendation", template_id="picked-for-you",
                            name="Their recommender")
    assert _report(stranger, theirs, first, "click", "KI012").status_code == 404  # team A's generation id
    assert not FeedbackEvent.objects.exists()


def test_the_widget_script_reports_clicks_on_its_recommendation_cards(served, client):
    product, *_ = served
    script = client.get(reverse("widget_script", args=[product.public_key])).content.decode()
    assert 'event: "click", item' in script and "keepalive: true" in script
