"""The playground page: its "Recent results" fragment (htmx re-fetches it), the Variants control, the draft's state."""

from __future__ import annotations

import pytest
from django.urls import reverse

from products.models import Product
from products.services import generation_create, generation_feedback_set, generation_finish, product_create
from studio.roles import Role

pytestmark = pytest.mark.django_db

HX = {"HX-Request": "true"}


@pytest.fixture
def product(owner_client):
    return product_create(
        team=owner_client.team, user=owner_client.user, kind_id="copywriting", template_id="ad-headlines"
    )


def _finished(product, user, text: str, *, finish_reason: str = "eos"):
    generation = generation_create(
        product=product,
        version=None,
        channel="playground",
        user=user,
        inputs={"product": "Trail shoes", "benefit": "dry feet", "tone": "bold"},
    )
    generation_finish(
        generation_id=generation.pk,
        output=text,
        finish_reason=finish_reason,
        tokens_in=5,
        tokens_out=3,
        time_to_first_token_s=0.1,
        duration_s=0.4,
        result={"text": text},
    )
    generation.refresh_from_db()
    return generation


def _recent_url(product) -> str:
    return reverse("playground_recent", args=[product.team.slug, product.slug])


def test_recent_results_fragment_lists_each_result_with_its_finish_reason_and_rating(owner_client, product):
    rated = _finished(product, owner_client.user, "Dry feet on every trail")
    _finished(product, owner_client.user, "Trail shoes that", finish_reason="cancelled")
    generation_feedback_set(generation=rated, value=1, user=owner_client.user)

    response = owner_client.get(_recent_url(product), headers=HX)

    fragment = response.content.decode()
    assert response.status_code == 200
    assert fragment.lstrip().startswith('<h2 id="recent-h">Recent results</h2>')  # the section's inside
    assert "<html" not in fragment and "Draft settings" not in fragment  # the named fragment only
    rows = fragment.split("<tr>")[2:]  # after the header row; newest first
    assert "Trail shoes that" in rows[0] and "(cancelled)" in rows[0] and "Good" not in rows[0]
    assert "Dry feet on every trail" in rows[1] and "(eos)" in rows[1] and "Good" in rows[1]


def test_recent_results_without_htmx_is_the_whole_playground(owner_client, product):
    _finished(product, owner_client.user, "Dry feet on every trail")
    page = owner_client.get(_recent_url(product)).content.decode()
    assert "<html" in page and "Draft settings" in page and "Dry feet on every trail" in page


def test_recent_results_of_another_teams_product_is_404(client, product, make_team):
    _finished(product, product.team.memberships.get().user, "Dry feet on every trail")
    client.force_login(make_team("Other").memberships.get().user)
    assert client.get(_recent_url(product), headers=HX).status_code == 404
    assert client.get(_recent_url(product)).status_code == 404


def test_a_viewer_reads_recent_results(client, product, make_member):
    _finished(product, product.team.memberships.get().user, "Dry feet on every trail")
    client.force_login(make_member(product.team, Role.VIEWER).user)
    response = client.get(_recent_url(product), headers=HX)
    assert response.status_code == 200 and "Dry feet on every trail" in response.content.decode()


def test_the_variants_control_beside_generate_starts_at_the_drafts_count_and_saving_keeps_it(owner_client, product):
    Product.objects.filter(pk=product.pk).update(settings={**product.settings, "variants": 3})
    url = reverse("playground", args=[owner_client.team.slug, product.slug])
    page = owner_client.get(url).content.decode()
    assert '<option value="3" selected>3</option>' in page
    assert 'name="variants"' not in page  # not a draft field: it is chosen for each press of Generate
    assert "Generate uses the saved draft settings." in page

    owner_client.post(
        reverse("draft_save", args=[owner_client.team.slug, product.slug]),
        {
            "system_prompt": "Be bold.",
            "prompt_template": product.prompt_template,
            "creativity": 0.2,
            "length": 24,
            "variants": 1,
        },
    )
    product.refresh_from_db()
    assert (product.system_prompt, product.settings) == ("Be bold.", {"creativity": 0.2, "length": 24, "variants": 3})


def test_a_refused_draft_save_says_the_edits_are_still_unsaved(owner_client, product):
    url = reverse("draft_save", args=[owner_client.team.slug, product.slug])
    data = {"system_prompt": "", "prompt_template": product.prompt_template, "creativity": 0.2, "length": 24}
    refused = owner_client.post(url, {**data, "prompt_template": "Copy for {nope}"}, headers=HX).content.decode()
    saved = owner_client.post(url, data, headers=HX).content.decode()
    assert 'id="draft-panel" data-unsaved="1"' in refused
    assert 'id="draft-panel">' in saved and "Saved." in saved
