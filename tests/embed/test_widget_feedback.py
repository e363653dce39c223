"""A visitor's 👍/👎 on a widget answer: only for answers they received, only from allowed websites."""

from __future__ import annotations

import json

import pytest

from products.embed.tokens import feedback_token
from products.services import generation_create
from tests.api.conftest import INPUTS
from tests.embed.conftest import SHOP

pytestmark = pytest.mark.django_db


@pytest.fixture
def answered(make_team, make_widget_product):
    product = make_widget_product(make_team("Acme"))
    generation = generation_create(product=product, version=product.live_version, channel="widget", user=None,
                                   inputs={"topic": "Hello"})
    return product, generation


def _rate(client, product, body, origin: str | None = SHOP):
    headers = {"HTTP_ORIGIN": origin} if origin else {}
    return client.post(f"/embed/{product.public_key}/feedback/", json.dumps(body), content_type="application/json",
                       **headers)


def _body(product, generation, value: int = 1, token: str | None = None) -> dict:
    token = token or feedback_token(public_key=product.public_key, generation_id=generation.pk)
    return {"generation": generation.pk, "token": token, "value": value}


def test_visitor_rates_an_answer_they_received_from_an_allowed_website(client, answered):
    product, generation = answered
    response = _rate(client, product, _body(product, generation, -1))
    assert response.json() == {"generation": generation.pk, "feedback": -1}
    assert response["Access-Control-Allow-Origin"] == SHOP and response["Vary"] == "Origin"
    generation.refresh_from_db()
    assert generation.feedback == -1


def test_browser_preflight_from_an_allowed_website_is_answered(client, answered):
    product, _ = answered
    response = client.options(f"/embed/{product.public_key}/feedback/", HTTP_ORIGIN=SHOP,
                              HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST")
    assert response.status_code == 204
    assert (response["Access-Control-Allow-Origin"], response["Access-Control-Allow-Headers"]) == (SHOP,
                                                                                                  "Content-Type")


def test_other_websites_cannot_rate(client, answered):
    product, generation = answered
    response = _rate(client, product, _body(product, generation), origin="https://evil.example")
    assert response.status_code == 403 and "Access-Control-Allow-Origin" not in response
    assert response.json() == {"error": "This website may not rate answers of this chat."}
    generation.refresh_from_db()
    assert generation.feedback == 0


def test_a_token_rates_only_its_own_widget_answer(client, answered, make_product):
    product, generation = answered
    playground = generation_create(product=product, version=None, channel="playground", user=None, inputs=INPUTS)
    for body in (
        _body(product, generation, token="0" * 32),  # made up
        {**_body(product, generation), "generation": playground.pk},  # another answer's token
        _body(product, playground),  # a valid token, but not a widget answer
    ):
        response = _rate(client, product, body)
        assert response.status_code == 403, body
        assert response.json() == {"error": "This rating link is not valid for that answer."}
    generation.refresh_from_db()
    playground.refresh_from_db()
    assert (generation.feedback, playground.feedback) == (0, 0)


def test_malformed_ratings_say_what_to_send(client, answered):
    product, generation = answered
    assert _rate(client, product, _body(product, generation, value=7)).json() == {
        "error": "Feedback is 1 (good), -1 (bad) or 0 (none)."}
    missing = _rate(client, product, {"generation": generation.pk})
    assert missing.status_code == 400
    assert missing.json() == {"error": 'Send {"generation": <id>, "token": "<feedback_token>", "value": 1, -1 or 0}, '
                                       'or "event": "click" or "purchase" with the recommended "item" instead of '
                                       '"value".'}
