"""/embed/<public_key>/allowed/: the widget asks, with the page's real Origin, whether it may draw its button."""

from __future__ import annotations

import pytest

from products.embed.services import product_public_key_rotate
from tests.embed.conftest import SHOP

pytestmark = pytest.mark.django_db


def _ask(client, public_key: str, origin: str | None):
    headers = {"HTTP_ORIGIN": origin} if origin else {}
    return client.get(f"/embed/{public_key}/allowed/", **headers)


def test_an_allowed_website_hears_yes_and_may_read_the_answer(client, make_team, make_widget_product):
    product = make_widget_product(make_team("Acme"))
    response = _ask(client, product.public_key, "https://Shop.Example")  # compared in canonical form
    assert response.status_code == 200 and response.json() == {"allowed": True}
    assert response["Access-Control-Allow-Origin"] == "https://Shop.Example"
    assert (response["Vary"], response["Cache-Control"]) == ("Origin", "no-store")


@pytest.mark.parametrize("origin", ["https://evil.example", "http://shop.example", "https://shop.example:8443",
                                    "null"])
def test_another_website_hears_no_and_can_read_that_no(client, make_team, make_widget_product, origin):
    product = make_widget_product(make_team("Acme"))
    response = _ask(client, product.public_key, origin)
    assert response.status_code == 200 and response.json() == {"allowed": False}
    assert response["Access-Control-Allow-Origin"] == origin  # so the widget reads "no", not a network error


def test_a_request_without_origin_hears_no(client, make_team, make_widget_product):
    product = make_widget_product(make_team("Acme"))
    response = _ask(client, product.public_key, None)
    assert response.json() == {"allowed": False} and "Access-Control-Allow-Origin" not in response


def test_the_studios_own_pages_hear_yes_for_the_embed_tabs_preview(client, make_team, make_widget_product):
    product = make_widget_product(make_team("Acme"), origins=[])
    assert _ask(client, product.public_key, "http://testserver").json() == {"allowed": True}
    assert _ask(client, product.public_key, "https://testserver").json() == {"allowed": False}


def test_one_teams_allow_list_says_nothing_about_another_teams_widget(client, make_team, make_widget_product):
    ours = make_widget_product(make_team("Acme"))
    theirs = make_widget_product(make_team("Other"), origins=["https://other.example"])
    assert _ask(client, ours.public_key, SHOP).json() == {"allowed": True}
    assert _ask(client, theirs.public_key, SHOP).json() == {"allowed": False}
    assert _ask(client, ours.public_key, "https://other.example").json() == {"allowed": False}


def test_an_unknown_or_rotated_key_hears_no(client, make_team, make_widget_product):
    product = make_widget_product(make_team("Acme"))
    old_key = product.public_key
    product_public_key_rotate(product=product)
    for key in (old_key, "pk_unknown", "sk_not-a-public-key"):
        response = _ask(client, key, SHOP)
        assert (response.status_code, response.json()) == (404, {"allowed": False})
    assert _ask(client, product.public_key, SHOP).json() == {"allowed": True}


def test_an_archived_product_draws_no_button_even_on_an_allowed_website(client, make_team, make_widget_product):
    from products.services import product_archive, product_restore

    product = make_widget_product(make_team("Acme"))
    product_archive(product=product)
    assert _ask(client, product.public_key, SHOP).json() == {"allowed": False}
    product_restore(product=product)
    assert _ask(client, product.public_key, SHOP).json() == {"allowed": True}
