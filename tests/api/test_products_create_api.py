"""Creating products through the API (a manage-scope key), and reading a Q&A product's knowledge base status."""

from __future__ import annotations

import pytest

from inference.models import KnowledgeIndex
from products.models import Product
from tests.api.conftest import bearer
from tests.knowledge import faq_version, index_building, index_ready

pytestmark = pytest.mark.django_db


@pytest.fixture
def make_version_for():
    """make_version_for(team): a dataset version mapped for copywriting, which cannot be a knowledge base."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from products.datasets.services import dataset_upload_create, dataset_version_create

    def make(team):
        user = team.memberships.get().user
        upload = dataset_upload_create(team=team, user=user, name="Copy", file=SimpleUploadedFile(
            "copy.csv", b"product,description\nMug,A mug.\nCup,A cup.\n"))
        return dataset_version_create(source=upload, user=user, kind="copywriting", shape="examples",
                                      column_mapping={"inputs": ["product"], "output": ["description"]})

    return make


@pytest.fixture
def shop(make_team):
    team = make_team("Shop")
    return team, faq_version(team, team.memberships.get().user)


def test_a_qa_product_is_created_on_a_dataset_and_shows_its_reading_progress(shop, make_key):
    team, faq = shop
    client = bearer(make_key(team))
    response = client.post("/api/v1/products/", {"kind": "qa", "template": "store-faq", "name": "Shop helper",
                                                 "knowledge_dataset": faq.dataset_id}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["slug"], body["kind"], body["live_version"]) == ("shop-helper", "qa", None)
    assert [field["name"] for field in body["inputs"]] == ["question"]
    assert body["knowledge"] == {"dataset": faq.dataset_id, "dataset_version": 1, "status": "queued",
                                 "progress_percent": 0, "passages": 0, "error": "",
                                 "message": "Reading your documents: 0 %"}
    assert body["retrieval"] == {"top_k": 4, "threshold": 0.35, "handoff": "",
                                 "abstain_text": "Sorry, I don't know that from our shop's FAQ."}
    index = KnowledgeIndex.objects.get(dataset_version=faq)
    assert Product.objects.get(team=team, slug="shop-helper").knowledge_version == faq

    index_building(index, done=12, total=30)
    knowledge = client.get("/api/v1/products/shop-helper/").json()["knowledge"]
    assert (knowledge["status"], knowledge["progress_percent"]) == ("running", 40)
    index_ready(index, [("Shipping", "4.95 €"), ("Returns", "30 days"), ("Hours", "9 to 6")])
    knowledge = client.get("/api/v1/products/shop-helper/").json()["knowledge"]
    assert (knowledge["status"], knowledge["passages"], knowledge["message"]) == ("ready", 3, "Ready: 3 passages")


def test_a_named_dataset_version_and_a_copywriting_product_without_one(shop, make_key, make_team):
    team, faq = shop
    client = bearer(make_key(team))
    named = client.post("/api/v1/products/", {"kind": "qa", "template": "help-centre",
                                              "knowledge_dataset": faq.dataset_id, "knowledge_dataset_version": 1},
                        format="json")
    assert named.status_code == 201 and named.json()["knowledge"]["dataset_version"] == 1
    copy = client.post("/api/v1/products/", {"kind": "copywriting", "template": "ad-headlines"}, format="json")
    assert copy.status_code == 201
    assert (copy.json()["name"], copy.json()["knowledge"], copy.json()["retrieval"]) == (
        "Ad headline variants", None, None)


def test_bad_requests_say_what_to_fix_and_make_nothing(shop, make_key, make_version_for):
    team, faq = shop
    client = bearer(make_key(team))
    cases = [
        ({"kind": "poetry", "template": "x"}, "Unknown product kind 'poetry'"),
        ({"kind": "qa", "template": "x"}, "The Q&A assistant kind has no template 'x'."),
        ({"kind": "copywriting", "template": "ad-headlines", "knowledge_dataset": faq.dataset_id},
         "Marketing copy products do not answer from a knowledge base."),
        ({"kind": "qa", "template": "store-faq", "knowledge_dataset": make_version_for(team).dataset_id},
         "is not mapped as Q&A documents or question → answer pairs"),
    ]
    for body, words in cases:
        response = client.post("/api/v1/products/", body, format="json")
        assert response.status_code == 400, (body, response.content)
        assert words in response.content.decode(), response.content
    assert not Product.objects.exists() and KnowledgeIndex.objects.count() == 0
    missing = client.post("/api/v1/products/", {"kind": "qa", "template": "store-faq",
                                                "knowledge_dataset": faq.dataset_id, "knowledge_dataset_version": 7},
                          format="json")
    assert missing.status_code == 404


def test_creating_needs_the_manage_scope(shop, make_key):
    team, faq = shop
    for scope in ("read", "generate"):
        response = bearer(make_key(team, scope=scope)).post(
            "/api/v1/products/", {"kind": "qa", "template": "store-faq", "knowledge_dataset": faq.dataset_id},
            format="json")
        assert response.status_code == 403 and "Read, generate and manage" in response.json()["detail"]
    assert not Product.objects.exists()


def test_another_teams_product_and_dataset_do_not_exist_for_the_key(shop, make_key, make_team):
    team, faq = shop
    bearer(make_key(team)).post("/api/v1/products/", {"kind": "qa", "template": "store-faq",
                                                      "knowledge_dataset": faq.dataset_id}, format="json")
    other = bearer(make_key(make_team("Other")))
    assert other.get("/api/v1/products/store-faq-bot/").status_code == 404
    response = other.post("/api/v1/products/", {"kind": "qa", "template": "store-faq",
                                                "knowledge_dataset": faq.dataset_id}, format="json")
    assert response.status_code == 404
    assert Product.objects.count() == 1
