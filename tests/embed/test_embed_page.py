"""The product's Embed tab: one script tag to copy, the allow-list and limits, the public key."""

from __future__ import annotations

import pytest
from django.urls import reverse

from studio.roles import Role
from tests.embed.conftest import SHOP

pytestmark = pytest.mark.django_db


@pytest.fixture
def embed(client, make_team, make_widget_product):
    team = make_team("Acme")
    product = make_widget_product(team, origins=[])
    client.force_login(team.memberships.get().user)
    return client, product, reverse("embed", args=[team.slug, product.slug])


def _settings(origins: str, per_visitor: int | str = 20, per_day: int | str = 1000) -> dict:
    return {"allowed_origins": origins, "messages_per_visitor_hour": per_visitor, "messages_per_day": per_day}


def test_tab_offers_one_script_tag_with_the_public_key_and_runs_the_widget_as_a_preview(embed):
    client, product, url = embed
    response = client.get(url)
    page = response.content.decode()
    tag = f'<script src="http://testserver/embed/{product.public_key}.js" async></script>'
    assert response.context["script_tag"] == tag
    assert 'value="&lt;script src=&quot;http://testserver/embed/' in page  # in the box to copy
    assert page.count(tag) == 1  # and once for real: the live preview on this page
    assert "No website is allowed yet, so the widget works only in the preview on this page." in page
    assert "Each visitor message is sent as “What to announce”; the other inputs use the defaults below." in page


def test_admin_saves_origins_in_their_canonical_form_and_the_limits(embed):
    client, product, url = embed
    response = client.post(url, _settings("https://Shop.Example/\nhttp://localhost:8000, https://shop.example:443",
                                          per_visitor=5, per_day=200), follow=True)
    assert "Embed settings saved. The widget works on 2 websites." in response.content.decode()
    product.refresh_from_db()
    assert product.allowed_origins == ["https://shop.example", "http://localhost:8000"]
    assert (product.widget_messages_per_visitor_hour, product.widget_messages_per_day) == (5, 200)


def test_every_bad_origin_is_named_and_nothing_is_saved(embed):
    client, product, url = embed
    response = client.post(url, _settings(f"{SHOP}\nshop.example\nhttps://shop.example/contact\nhttps://*.example"))
    assert response.status_code == 400
    errors = response.context["form"].errors["allowed_origins"]
    assert errors == [
        "“shop.example” is not a website origin: it needs http:// or https://. "
        "Write it as https://shop.example or http://localhost:8000.",
        "“https://shop.example/contact” has a path: an origin is only the scheme, host and port "
        "(“https://shop.example”).",
        "“https://*.example” has no valid host name; wildcards are not allowed. "
        "Write it as https://shop.example or http://localhost:8000.",
    ]
    product.refresh_from_db()
    assert product.allowed_origins == []


def test_limits_must_be_whole_numbers_of_at_least_one(embed):
    client, product, url = embed
    response = client.post(url, _settings(SHOP, per_visitor=0, per_day="many"))
    assert response.status_code == 400
    assert response.context["form"].errors == {
        "messages_per_visitor_hour": ["Ensure this value is greater than or equal to 1."],
        "messages_per_day": ["Enter a whole number."],
    }
    product.refresh_from_db()
    assert product.allowed_origins == [] and product.widget_messages_per_visitor_hour == 20


@pytest.mark.parametrize("role", [Role.EDITOR, Role.VIEWER])
def test_members_below_admin_read_the_settings_but_cannot_change_them(client, make_team, make_member,
                                                                      make_widget_product, role):
    team = make_team("Acme")
    product = make_widget_product(team)
    client.force_login(make_member(team, role).user)
    url = reverse("embed", args=[team.slug, product.slug])
    page = client.get(url).content.decode()
    assert SHOP in page and "Team admins change these settings." in page and "Make a new key" not in page
    assert client.post(url, _settings("https://evil.example")).status_code == 403
    assert client.post(reverse("embed_key_rotate", args=[team.slug, product.slug])).status_code == 403
    old_key = product.public_key
    product.refresh_from_db()
    assert (product.allowed_origins, product.public_key) == ([SHOP], old_key)


def test_another_teams_admin_cannot_see_the_tab(client, make_team, make_widget_product):
    team, other = make_team("Acme"), make_team("Other")
    product = make_widget_product(team)
    client.force_login(other.memberships.get().user)
    assert client.get(reverse("embed", args=[team.slug, product.slug])).status_code == 404
    assert client.get(reverse("embed", args=[other.slug, product.slug])).status_code == 404


def test_a_new_key_stops_the_old_script_tag_at_once(embed):
    client, product, url = embed
    old_key = product.public_key
    response = client.post(reverse("embed_key_rotate", args=[product.team.slug, product.slug]), follow=True)
    assert "The widget has a new key. Replace the script tag on your websites" in response.content.decode()
    product.refresh_from_db()
    assert product.public_key != old_key and product.public_key.startswith("pk_")
    assert client.get(f"/embed/{old_key}.js").status_code == 404
    assert client.get(f"/embed/{product.public_key}.js").status_code == 200
