"""The version page: a version's settings in words, its prompt diff, and loading it back into the draft."""

from __future__ import annotations

import pytest
from django.urls import reverse

from products.models import Product
from products.services import product_create, product_draft_update, product_version_create, product_version_publish
from products.versions.diff import ADDED, REMOVED, SAME, text_diff
from studio.roles import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def product(owner_client):
    return product_create(
        team=owner_client.team,
        user=owner_client.user,
        kind_id="copywriting",
        template_id="ad-headlines",
        name="Headlines",
    )


def edit(product: Product, *, system_prompt: str | None = None, prompt: str | None = None, **settings) -> None:
    product_draft_update(
        product=product,
        system_prompt=product.system_prompt if system_prompt is None else system_prompt,
        prompt_template=product.prompt_template if prompt is None else prompt,
        settings={**product.settings, **settings},
    )


@pytest.fixture
def two_versions(owner_client, product):
    """v1 from the template; v2 with one prompt line replaced, one added, and a new system prompt."""
    user = owner_client.user
    edit(product, system_prompt="Write short headlines.", prompt="Product: {product}\nAudience: everyone")
    product_version_create(product=product, user=user, note="plain")
    edit(
        product,
        system_prompt="Write short, bold headlines.\nNever use hashtags.",
        prompt="Product: {product}\nAudience: busy parents\nEnd with a question.",
        creativity=0.3,
    )
    product_version_create(product=product, user=user, note="bolder")
    return product


def page(client, product, number: int) -> str:
    response = client.get(reverse("version_detail", args=[product.team.slug, product.slug, number]))
    assert response.status_code == 200
    return response.content.decode()


def test_the_line_diff_marks_replaced_added_and_kept_lines_in_order():
    diff = text_diff(label="Prompt", old="a\nb\nc", new="a\nB\nc\nd")
    assert [(line.change, line.text) for line in diff.lines] == [
        (SAME, "a"),
        (REMOVED, "b"),
        (ADDED, "B"),
        (SAME, "c"),
        (ADDED, "d"),
    ]
    assert (diff.added, diff.removed, diff.changed) == (2, 1, True)
    assert [(line.old_number, line.new_number) for line in diff.lines] == [
        (1, 1),
        (2, None),
        (None, 2),
        (3, 3),
        (None, 4),
    ]
    assert not text_diff(label="Prompt", old="same", new="same").changed


def test_version_page_shows_the_prompt_diff_against_the_previous_version(owner_client, two_versions):
    html = page(owner_client, two_versions, 2)
    assert "Compared with version 1." in html
    assert '<tr class="diff-removed"><td class="diff-number">2</td><td class="diff-number"></td>' in html
    assert "<del>Audience: everyone</del>" in html
    assert "<ins>Audience: busy parents</ins>" in html and "<ins>End with a question.</ins>" in html
    assert "2 lines added, 1 removed since version 1." in html  # prompt
    assert "<del>Write short headlines.</del>" in html and "<ins>Never use hashtags.</ins>" in html
    assert "Creativity: 0.5 → 0.3." in html
    assert "<script>" not in html and ' style="' not in html  # drawn by the server: nothing the CSP would block


def test_first_version_page_has_no_diff_and_says_so(owner_client, two_versions):
    html = page(owner_client, two_versions, 1)
    assert "First version." in html and 'class="diff"' not in html


def test_version_page_lists_its_settings_in_words(owner_client, two_versions):
    html = page(owner_client, two_versions, 2)
    for text in (
        "Creativity</dt><dd>0.3",
        "Base model</dt><dd>SmolLM2 135M Instruct (bundled)",
        "Fine-tuned model</dt><dd>None: the base model alone",
        "Engine</dt><dd>This studio&#x27;s own engine",
        "Worked examples in the prompt</dt><dd>2",  # the headline template has two
        "Inputs</dt><dd>Product",
    ):
        assert text in html, text
    assert "Write short, bold headlines.\nNever use hashtags." in html  # the full system prompt


def test_loading_a_version_makes_the_draft_exactly_that_version(owner_client, two_versions):
    product = two_versions
    response = owner_client.post(reverse("version_load", args=[product.team.slug, product.slug, 1]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("playground", args=[product.team.slug, product.slug])
    assert "The draft now has version 1&#x27;s settings." in response.content.decode()
    product.refresh_from_db()
    assert product.config() == product.versions.get(number=1).config()
    assert product.versions.count() == 2  # loading saves nothing


def test_after_a_roll_back_the_versions_tab_offers_to_reset_the_draft(owner_client, two_versions):
    product, url = two_versions, reverse("versions", args=[two_versions.team.slug, two_versions.slug])
    product_version_publish(product=product, version=product.versions.get(number=2))
    assert "Reset the draft to the live version?" not in owner_client.get(url).content.decode()
    owner_client.post(reverse("version_publish", args=[product.team.slug, product.slug, 1]))
    html = owner_client.get(url).content.decode()
    assert "Reset the draft to version 1" in html
    owner_client.post(reverse("version_load", args=[product.team.slug, product.slug, 1]))
    product.refresh_from_db()
    assert product.system_prompt == "Write short headlines."
    assert "Reset the draft to the live version?" not in owner_client.get(url).content.decode()


def test_a_viewer_reads_the_version_page_but_cannot_load_it(client, two_versions, make_member):
    product = two_versions
    client.force_login(make_member(product.team, Role.VIEWER).user)
    html = page(client, product, 2)
    assert "Load this version into the draft" not in html
    before = product.config()
    assert client.post(reverse("version_load", args=[product.team.slug, product.slug, 1])).status_code == 403
    product.refresh_from_db()
    assert product.config() == before


@pytest.mark.parametrize(("method", "name"), [("get", "version_detail"), ("post", "version_load")])
def test_another_team_gets_404_on_version_pages(client, two_versions, make_team, method, name):
    product = two_versions
    other = make_team("Other")
    client.force_login(other.memberships.get().user)
    before = product.config()
    for team_slug in (product.team.slug, other.slug):  # my team's address, and my product under theirs
        response = getattr(client, method)(reverse(name, args=[team_slug, product.slug, 1]))
        assert response.status_code == 404
    product.refresh_from_db()
    assert product.config() == before


def test_an_unknown_version_number_is_404(owner_client, two_versions):
    url = reverse("version_detail", args=[two_versions.team.slug, two_versions.slug, 9])
    assert owner_client.get(url).status_code == 404
