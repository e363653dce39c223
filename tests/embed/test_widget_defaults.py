"""What the widget shows and the defaults it fills in: saved in the draft from the Embed tab, frozen with a version."""

from __future__ import annotations

import json
import re

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from products.demo import product_demo_seed
from products.embed.services import product_widget_update
from products.kinds import get_kind
from products.models import Product, ProductVersion
from products.services import product_version_create, product_version_diff, product_version_publish
from studio.roles import Role

pytestmark = pytest.mark.django_db


def _script_config(client, product) -> dict:
    source = client.get(f"/embed/{product.public_key}.js").content.decode()
    return json.loads(re.search(r"const CONFIG = (\{.*?\});\n", source).group(1))


def _defaults(config) -> dict:
    return {field.name: field.default for field in get_kind("copywriting").input_fields(config)}


def _publish_draft(product) -> ProductVersion:
    version = product_version_create(product=product, user=product.team.memberships.get().user)
    product_version_publish(product=product, version=version)
    return version


@pytest.fixture
def headlines(make_team, make_widget_product):
    """Ad headlines in a widget: a message fills “Product name”, and “Main benefit” is required with no default."""
    return make_widget_product(make_team("Acme"), template_id="ad-headlines", name="Headlines")


def test_saved_settings_change_the_draft_and_only_the_next_published_version_carries_them(client, headlines):
    live = headlines.live_version
    product_widget_update(product=headlines, defaults={"benefit": "  dry feet ", "tone": "bold"},
                          title=" Trail  Shop ", placeholder="Your product…", greeting="Hi! Name a product.\n")

    headlines.refresh_from_db()
    assert _defaults(headlines) == {"product": None, "benefit": "dry feet", "tone": "bold"}
    assert headlines.widget == {"title": "Trail Shop", "placeholder": "Your product…",
                                "greeting": "Hi! Name a product."}
    live.refresh_from_db()  # versions are frozen: visitors still get the live one's
    assert _defaults(live) == {"product": None, "benefit": None, "tone": "friendly"} and live.widget == {}
    assert {k: _script_config(client, headlines)[k] for k in ("title", "placeholder", "greeting")} == {
        "title": "Headlines", "placeholder": "Product name…", "greeting": ""}

    version = _publish_draft(headlines)
    assert version.widget == headlines.widget and _defaults(version) == _defaults(headlines)
    assert {k: _script_config(client, headlines)[k] for k in ("title", "placeholder", "greeting")} == {
        "title": "Trail Shop", "placeholder": "Your product…", "greeting": "Hi! Name a product."}
    assert product_version_diff(live.config(), version.config()) == ["Inputs changed.", "Widget texts changed."]


def test_bad_defaults_and_texts_are_named_and_nothing_is_saved(headlines):
    with pytest.raises(ValidationError) as caught:
        product_widget_update(product=headlines, defaults={"benefit": "x" * 201, "tone": "grumpy", "product": "Shoes"},
                              title="T" * 81)
    assert caught.value.message_dict == {
        "default_benefit": ["Main benefit is 201 characters; the limit is 200."],
        "default_tone": ["Tone must be one of: friendly, professional, playful, luxurious, bold."],
        "title": ["At most 80 characters; this is 81."],
        "__all__": ["“product” is not an input a visitor's message leaves empty; reload the page."],
    }
    headlines.refresh_from_db()
    assert _defaults(headlines)["tone"] == "friendly" and headlines.widget == {}


def test_emptying_a_default_removes_it(headlines):
    product_widget_update(product=headlines, defaults={"benefit": "", "tone": ""})
    headlines.refresh_from_db()
    assert _defaults(headlines) == {"product": None, "benefit": None, "tone": None}


def test_the_embed_tab_names_the_input_without_default_then_saves_one_and_says_when_visitors_get_it(
    client, headlines,
):
    team = headlines.team
    client.force_login(team.memberships.get().user)
    url = reverse("embed", args=[team.slug, headlines.slug])
    page = client.get(url).content.decode()
    assert ("The live version cannot fill “Main benefit” from a visitor's message, so the widget tells every "
            "visitor it is required. Give it a default below, then save a version and publish it.") in page
    assert "Still without a default: “Main benefit”." in page

    response = client.post(reverse("embed_widget", args=[team.slug, headlines.slug]), {
        "title": "Trail Shop", "placeholder": "", "greeting": "", "default_benefit": "dry feet",
        "default_tone": "friendly",
    }, follow=True)
    page = response.content.decode()
    assert ("Widget settings saved in the draft. Visitors get them once you save a version and publish it on the "
            "Versions tab.") in page
    assert "The draft's widget settings are not live yet: the widget still shows those of version 1." in page
    assert "Still without a default" not in page and "The live version cannot fill" in page
    headlines.refresh_from_db()
    assert _defaults(headlines)["benefit"] == "dry feet"

    _publish_draft(headlines)
    page = client.get(url).content.decode()
    assert "The live version cannot fill" not in page and "not live yet" not in page


def test_a_bad_default_is_shown_beside_its_field(client, headlines):
    team = headlines.team
    client.force_login(team.memberships.get().user)
    response = client.post(reverse("embed_widget", args=[team.slug, headlines.slug]), {
        "title": "", "placeholder": "", "greeting": "", "default_benefit": "", "default_tone": "grumpy"})
    assert response.status_code == 400
    assert response.context["widget_form"].errors == {
        "default_tone": ["Tone must be one of: friendly, professional, playful, luxurious, bold."]}
    headlines.refresh_from_db()
    assert _defaults(headlines)["tone"] == "friendly"


@pytest.mark.parametrize("role", [Role.EDITOR, Role.VIEWER])
def test_members_below_admin_cannot_save_widget_settings(client, make_member, headlines, role):
    team = headlines.team
    client.force_login(make_member(team, role).user)
    response = client.post(reverse("embed_widget", args=[team.slug, headlines.slug]),
                           {"title": "Hacked", "default_benefit": "x"})
    assert response.status_code == 403
    headlines.refresh_from_db()
    assert headlines.widget == {} and _defaults(headlines)["benefit"] is None


def test_another_teams_admin_cannot_save_widget_settings(client, make_team, headlines):
    other = make_team("Other")
    client.force_login(other.memberships.get().user)
    for team_slug in (headlines.team.slug, other.slug):
        response = client.post(reverse("embed_widget", args=[team_slug, headlines.slug]), {"title": "Hacked"})
        assert response.status_code == 404
    headlines.refresh_from_db()
    assert headlines.widget == {}


def test_the_flagship_sample_greets_visitors_says_what_to_type_and_lacks_no_default(client, make_team):
    team = make_team("Demo")
    owner = team.memberships.get().user
    product_demo_seed(team=team, user=owner)
    product = Product.objects.get(team=team, name="Shop product descriptions")
    config = _script_config(client, product)
    assert (config["title"], config["placeholder"]) == ("Shop product descriptions", "Your product's facts…")
    assert config["greeting"].startswith("Tell me what you sell: a few facts about it, one per line")
    client.force_login(owner)
    page = client.get(reverse("embed", args=[team.slug, product.slug])).content.decode()
    assert "Each visitor message is sent as “Key features”" in page
    assert "cannot fill" not in page and "Still without a default" not in page and "not live yet" not in page
