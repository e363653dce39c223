"""Deep JSON and non-finite numbers at the REST API and /v1/chat/completions: 400 saying why, never 500."""

from __future__ import annotations

import pytest

from products.models import Generation
from tests.api.conftest import INPUTS, bearer

pytestmark = pytest.mark.django_db

DEEP = "The JSON nests more than 32 levels deep; send a flatter object."
BODIES = {
    "[" * 100_000: DEEP,
    '{"inputs": ' * 100_000: DEEP,
    '{"inputs": {}, "settings": {"creativity": NaN}}': "NaN is not a JSON number; send a finite number.",
    '{"inputs": {}, "settings": {"creativity": -Infinity}}': "-Infinity is not a JSON number; send a finite number.",
    '{"inputs": {}, "settings": {"creativity": 1e400}}': "1e400 is too large for a JSON number; send a finite number.",
}


@pytest.fixture
def api(make_team, make_key, make_product):
    team = make_team("Acme")
    product = make_product(team, template_id="email-subject-lines")
    return bearer(make_key(team)), product


def _generate_url(product) -> str:
    return f"/api/v1/products/{product.slug}/generate/"


@pytest.mark.parametrize("body", list(BODIES))
def test_generate_answers_400_for_deep_or_non_finite_json(api, body):
    client, product = api
    response = client.post(_generate_url(product), body, content_type="application/json")
    assert (response.status_code, response.json()) == (400, {"detail": f"JSON parse error - {BODIES[body]}"})
    assert not Generation.objects.exists()


@pytest.mark.parametrize("value", ["nan", "inf", "-Infinity", "1e400"])
def test_generate_refuses_non_finite_settings_and_number_inputs(api, value):
    client, product = api
    body = {"inputs": {"email_about": "Sale"}, "settings": {"creativity": value}}
    response = client.post(_generate_url(product), body, format="json")
    assert (response.status_code, response.json()) == (
        400, {"settings": {"creativity": ["A valid number is required."]}})
    body = {"inputs": {"email_about": "Sale", "max_words": value}}
    response = client.post(_generate_url(product), body, format="json")
    assert (response.status_code, response.json()) == (
        400, {"inputs": {"max_words": "Maximum words must be a number."}})
    assert not Generation.objects.exists()


@pytest.mark.parametrize("body", list(BODIES))
def test_chat_completions_answers_400_in_openai_shape_for_deep_or_non_finite_json(api, body):
    client, _ = api
    response = client.post("/v1/chat/completions", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"error": {"message": f"JSON parse error - {BODIES[body]}",
                                         "type": "invalid_request_error", "param": None, "code": "parse_error"}}
    assert not Generation.objects.exists()


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e400"])
def test_chat_completions_refuses_a_non_finite_temperature_or_number_input(api, value):
    client, product = api
    messages = [{"role": "user", "content": "Our summer sale"}]
    response = client.post("/v1/chat/completions", {"model": product.slug, "messages": messages, "temperature": value},
                           format="json")
    assert (response.status_code, response.json()["error"]["param"], response.json()["error"]["message"]) == (
        400, "temperature", "temperature: A valid number is required.")
    response = client.post("/v1/chat/completions", {"model": product.slug, "messages": messages,
                                                    "inputs": {"max_words": value}}, format="json")
    assert response.status_code == 400, response.json()
    assert "Maximum words must be a number." in response.json()["error"]["message"]
    assert not Generation.objects.exists()


def test_a_plain_request_still_starts_a_generation(api):
    client, product = api
    response = client.post(_generate_url(product), {"inputs": {"email_about": INPUTS["product"]}, "stream": True},
                           format="json")
    assert response.status_code == 200
    assert Generation.objects.count() == 1
