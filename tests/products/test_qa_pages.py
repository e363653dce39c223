"""The Q&A pages: create from the gallery with a knowledge base, the Knowledge tab, the polled status, the chat."""

from __future__ import annotations

import pytest
from django.urls import reverse

from inference.models import KnowledgeIndex
from products.models import Generation, Product
from products.services import product_create
from tests.knowledge import faq_version, index_building, index_failed, index_ready

pytestmark = pytest.mark.django_db


@pytest.fixture
def faq(owner_client):
    return faq_version(owner_client.team, owner_client.user)


@pytest.fixture
def assistant(owner_client, faq):
    return product_create(team=owner_client.team, user=owner_client.user, kind_id="qa", template_id="store-faq",
                          name="Shop helper", knowledge_version=faq)


def _knowledge_url(client, product, name="knowledge_settings"):
    return reverse(name, args=[client.team.slug, product.slug])


def test_the_gallery_asks_qa_templates_for_a_knowledge_base_and_creating_queues_its_reading(owner_client, faq):
    team = owner_client.team
    page = owner_client.get(reverse("product_new", args=[team.slug])).content.decode()
    assert "Help-centre assistant" in page and "Store FAQ bot" in page and "Internal policy helper" in page
    assert f'<option value="{faq.pk}">Store FAQ v1 (30 rows, questions and answers)</option>' in page
    assert reverse("dataset_upload", args=[team.slug]) in page
    assert "Coming next" not in page  # every kind has landed: none is planned any more
    response = owner_client.post(reverse("product_new", args=[team.slug]), {
        "kind": "qa", "template": "store-faq", "name": "Shop helper", "knowledge_version": faq.pk}, follow=True)
    product = Product.objects.get()
    assert response.redirect_chain[-1][0] == reverse("playground", args=[team.slug, "shop-helper"])
    assert product.knowledge_version == faq
    assert KnowledgeIndex.objects.get(dataset_version=faq).status == "queued"
    html = response.content.decode()
    assert "Its documents are being read" in html and "Reading your documents: 0 %" in html
    assert 'data-chat="1"' in html and "products/renderers/answer.js" in html


def test_a_dataset_that_cannot_be_a_knowledge_base_is_refused_on_the_gallery(owner_client, make_version, make_team):
    team = owner_client.team
    other = make_team("Other")
    theirs = faq_version(other, other.memberships.get().user)
    response = owner_client.post(reverse("product_new", args=[team.slug]), {
        "kind": "qa", "template": "store-faq", "knowledge_version": theirs.pk}, follow=True)
    assert "That knowledge base is not one of your team&#x27;s datasets: pick another." in response.content.decode()
    assert not Product.objects.exists() and not KnowledgeIndex.objects.exists()


def test_the_status_line_polls_while_reading_and_stops_when_ready_or_failed(owner_client, assistant, faq):
    index = KnowledgeIndex.objects.get(dataset_version=faq)
    status_url = _knowledge_url(owner_client, assistant, "knowledge_status")
    index_building(index, done=12, total=30)
    building = owner_client.get(status_url).content.decode()
    assert "Reading your documents: 40 %" in building
    assert f'hx-get="{status_url}" hx-trigger="every 2s"' in building and 'value="40"' in building
    index_ready(index, [("Shipping", "4.95 €")] * 123)
    ready = owner_client.get(status_url).content.decode()
    assert "Ready: 123 passages" in ready and "hx-trigger" not in ready
    index_failed(index, "Row 4 is not text.")
    failed = owner_client.get(status_url).content.decode()
    assert "Reading your documents failed: Row 4 is not text." in failed and "hx-trigger" not in failed


def test_the_knowledge_tab_saves_the_dataset_and_the_settings_to_the_draft(owner_client, assistant, faq):
    team = owner_client.team
    newer = faq_version(team, owner_client.user, name="FAQ 2024")
    url = _knowledge_url(owner_client, assistant)
    page = owner_client.get(url).content.decode()
    for words in ("How many passages to use", "How sure before answering", "“I don&#x27;t know” sentence",
                  "“Talk to a person” line", 'type="range"', "Reading your documents: 0 %"):
        assert words in page, words
    response = owner_client.post(url, {"knowledge_version": newer.pk, "top_k": 6, "threshold": "0.5",
                                       "abstain_text": "I can't find that. ", "handoff": "Email help@shop.example"},
                                 follow=True)
    assert "Knowledge settings saved to the draft" in response.content.decode()
    assistant.refresh_from_db()
    assert assistant.knowledge_version == newer
    assert (assistant.kind_config["top_k"], assistant.kind_config["threshold"]) == (6, 0.5)
    assert (assistant.kind_config["abstain_text"], assistant.kind_config["handoff"]) == (
        "I can't find that.", "Email help@shop.example")
    assert KnowledgeIndex.objects.filter(dataset_version=newer).exists()


def test_bad_knowledge_settings_are_named_next_to_their_field(owner_client, assistant, faq):
    url = _knowledge_url(owner_client, assistant)
    response = owner_client.post(url, {"knowledge_version": faq.pk, "top_k": 12, "threshold": "2",
                                       "abstain_text": ""})
    html = response.content.decode()
    assert "How many passages to use must be a whole number from 1 to 8." in html
    assert "How sure before answering must be a number from 0 to 1." in html
    assert "Write the sentence the assistant says when your documents do not answer." in html
    assistant.refresh_from_db()
    assert assistant.kind_config["top_k"] == 4


def test_a_viewer_reads_the_knowledge_tab_but_cannot_save_it(client, assistant, make_member):
    viewer = make_member(assistant.team, role="viewer").user
    client.force_login(viewer)
    url = reverse("knowledge_settings", args=[assistant.team.slug, assistant.slug])
    page = client.get(url).content.decode()
    assert "Viewers can read these settings" in page and "How many passages to use" not in page
    assert client.post(url, {"top_k": 2, "threshold": 0.5, "abstain_text": "x"}).status_code == 404
    assistant.refresh_from_db()
    assert assistant.kind_config["top_k"] == 4


def test_another_teams_member_gets_404_on_the_knowledge_pages(client, assistant, make_team):
    stranger = make_team("Other").memberships.get().user
    client.force_login(stranger)
    for name in ("knowledge_settings", "knowledge_status"):
        assert client.get(reverse(name, args=[assistant.team.slug, assistant.slug])).status_code == 404


def test_a_copywriting_product_has_no_knowledge_tab(owner_client):
    product = product_create(team=owner_client.team, user=owner_client.user, kind_id="copywriting",
                             template_id="ad-headlines")
    page = owner_client.get(reverse("playground", args=[owner_client.team.slug, product.slug])).content.decode()
    assert "Knowledge</a>" not in page and 'data-chat="1"' not in page
    assert owner_client.get(_knowledge_url(owner_client, product)).status_code == 404


def test_recent_answers_show_their_cited_sources_or_that_the_documents_did_not_say(owner_client, assistant, faq):
    index_ready(KnowledgeIndex.objects.get(dataset_version=faq), [("Shipping", "4.95 €")])
    Generation.objects.create(team=assistant.team, product=assistant, status="finished", result={
        "text": "Standard delivery costs 4.95 € [1].", "abstained": False, "best_score": 0.8, "threshold": 0.35,
        "citations": [{"n": 1, "id": 5, "title": "How much does shipping cost?"}]})
    Generation.objects.create(team=assistant.team, product=assistant, status="finished", result={
        "text": "Sorry, I don't know.", "citations": [], "abstained": True, "best_score": 0.21, "threshold": 0.35})
    page = owner_client.get(reverse("playground", args=[owner_client.team.slug, assistant.slug])).content.decode()
    assert "sources: [1] How much does shipping cost?" in page
    assert "not found in the documents (best match 0.21, needs 0.35)" in page
    assert "Ready: 1 passage" in page and ">Knowledge</a>" in page
    script = owner_client.get(reverse("widget_script", args=[assistant.public_key])).content.decode()
    assert ".answer = (" in script and "studioWidget: true" in script and "conversation" in script
