"""Products from templates, the editable draft, immutable versions, publish and roll back."""

from __future__ import annotations

import pytest
from django.urls import reverse

from products.models import Generation, Product, ProductVersion
from products.services import generation_create, product_create
from studio.roles import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def product(owner_client):
    return product_create(
        team=owner_client.team, user=owner_client.user, kind_id="copywriting", template_id="ad-headlines",
    )


def test_creating_from_the_gallery_copies_the_template_and_opens_the_playground(owner_client):
    team = owner_client.team
    response = owner_client.post(
        reverse("product_new", args=[team.slug]),
        {"kind": "copywriting", "template": "product-description", "name": "Shop descriptions"},
        follow=True,
    )
    product = Product.objects.get()
    assert response.redirect_chain[-1][0] == reverse("playground", args=[team.slug, "shop-descriptions"])
    assert product.prompt_template.startswith("Product: {product}\nFacts:\n{features}")
    assert [e["inputs"]["product"] for e in product.kind_config["examples"]] == [
        "Ceramic coffee mug", "Hiking backpack", "Office chair"]
    assert product.kind_config["message_input"] == "features"
    assert [f["name"] for f in product.input_schema] == ["product", "features", "audience", "tone"]
    assert product.settings == {"creativity": 0.0, "length": 180, "variants": 1}
    page = response.content.decode()
    assert "Key features" in page and "Generate" in page


def test_a_product_named_new_does_not_hide_the_gallery(owner_client):
    product = product_create(team=owner_client.team, user=owner_client.user, kind_id="copywriting",
                             template_id="social-post", name="New")
    assert product.slug == "new-2"


def test_unknown_template_is_refused_with_a_message(owner_client):
    response = owner_client.post(
        reverse("product_new", args=[owner_client.team.slug]),
        {"kind": "copywriting", "template": "sonnets"}, follow=True,
    )
    assert "The Marketing copy kind has no template &#x27;sonnets&#x27;." in response.content.decode()
    assert not Product.objects.exists()


def test_draft_prompt_with_an_unknown_placeholder_is_refused(owner_client, product):
    url = reverse("draft_save", args=[owner_client.team.slug, product.slug])
    response = owner_client.post(url, {"system_prompt": "", "prompt_template": "Headline for {prodcut}",
                                       "creativity": 0.5, "length": 30, "variants": 2})
    assert ("The prompt uses {prodcut} (line 1, column 14), which is not an input of this product."
            in response.content.decode())
    product.refresh_from_db()
    assert "{prodcut}" not in product.prompt_template


def test_versions_freeze_the_draft_and_list_what_changed(owner_client, product):
    team = owner_client.team
    owner_client.post(reverse("version_create", args=[team.slug, product.slug]), {"note": "first"})
    owner_client.post(reverse("draft_save", args=[team.slug, product.slug]), {
        "system_prompt": "Be bold.", "prompt_template": product.prompt_template,
        "creativity": 0.2, "length": 24, "variants": 3,
    })
    owner_client.post(reverse("version_create", args=[team.slug, product.slug]), {"note": "calmer"})
    v1, v2 = ProductVersion.objects.order_by("number")
    assert (v1.number, v1.note, v1.settings["creativity"]) == (1, "first", 0.5)
    assert (v2.number, v2.system_prompt, v2.settings["creativity"]) == (2, "Be bold.", 0.2)
    page = owner_client.get(reverse("versions", args=[team.slug, product.slug])).content.decode()
    assert "Instructions changed." in page and "Creativity: 0.5 → 0.2." in page and "First version." in page


def test_publish_then_roll_back_moves_the_live_pointer(owner_client, product):
    team = owner_client.team
    for _ in range(2):
        owner_client.post(reverse("version_create", args=[team.slug, product.slug]))
    owner_client.post(reverse("version_publish", args=[team.slug, product.slug, 2]))
    product.refresh_from_db()
    assert product.live_version.number == 2
    response = owner_client.post(reverse("version_publish", args=[team.slug, product.slug, 1]), follow=True)
    product.refresh_from_db()
    assert product.live_version.number == 1
    assert "Rolled back: version 1 is live again." in response.content.decode()
    assert ProductVersion.objects.count() == 2  # versions are never rewritten


def test_viewer_sees_the_playground_but_cannot_change_anything(client, product, make_member):
    team = product.team
    client.force_login(make_member(team, Role.VIEWER).user)
    page = client.get(reverse("playground", args=[team.slug, product.slug])).content.decode()
    assert "Viewers can read the playground; ask an editor to generate." in page
    assert client.post(reverse("version_create", args=[team.slug, product.slug])).status_code == 403
    assert client.post(reverse("draft_save", args=[team.slug, product.slug]), {}).status_code == 403
    assert not ProductVersion.objects.exists()


def test_feedback_is_saved_for_my_teams_generation(owner_client, product):
    generation = generation_create(product=product, version=None, channel="playground",
                                   user=owner_client.user, inputs={})
    url = reverse("generation_feedback", args=[owner_client.team.slug, generation.pk])
    assert owner_client.post(url, {"value": "-1"}, HTTP_ACCEPT="application/json").status_code == 204
    generation.refresh_from_db()
    assert generation.feedback == -1


@pytest.mark.parametrize(
    ("method", "name", "extra"),
    [("get", "playground", []), ("get", "versions", []), ("post", "version_create", []),
     ("post", "version_publish", [1]), ("post", "draft_save", [])],
)
def test_another_teams_member_gets_404_on_product_pages(client, product, make_team, method, name, extra):
    product_version = ProductVersion.objects.create(product=product, number=1, prompt_template="x")
    outsider = make_team("Other").memberships.get().user
    client.force_login(outsider)
    response = getattr(client, method)(reverse(name, args=[product.team.slug, product.slug, *extra]))
    assert response.status_code == 404
    product.refresh_from_db()
    assert product.live_version is None and product_version.number == 1


def test_another_teams_member_cannot_rate_my_generation(client, product, make_team):
    generation = generation_create(product=product, version=None, channel="playground", user=None, inputs={})
    outsider_team = make_team("Other")
    client.force_login(outsider_team.memberships.get().user)
    url = reverse("generation_feedback", args=[outsider_team.slug, generation.pk])
    assert client.post(url, {"value": "1"}).status_code == 404
    assert Generation.objects.get().feedback == 0
