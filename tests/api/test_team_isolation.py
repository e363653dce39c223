"""Team B's API key cannot see or touch team A's objects on any API route: they do not exist for it."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import get_resolver, resolve

from inference.models import TrainingRun
from products.datasets.services import dataset_upload_create, dataset_version_create
from products.models import Dataset, DatasetVersion, Generation, Product
from products.services import generation_create
from tests.api.conftest import INPUTS, bearer
from tests.products.conftest import GOOD_CSV

pytestmark = pytest.mark.django_db


@pytest.fixture
def team_a_objects(make_team, make_product):
    team_a = make_team("Acme")
    product = make_product(team_a, name="Secret launch")
    generation = generation_create(product=product, version=product.live_version, channel="api", user=None,
                                   inputs=INPUTS)
    upload = dataset_upload_create(team=team_a, user=team_a.memberships.get().user, name="Secret launch FAQ",
                                   file=SimpleUploadedFile("faq.csv", GOOD_CSV))
    version = dataset_version_create(source=upload, user=upload.created_by, kind="qa", shape="pairs",
                                     column_mapping={"question": ["question"], "answer": ["answer"]})
    TrainingRun.objects.create(team=team_a, product=product, dataset_version=version, created_by=upload.created_by)
    return team_a, product, generation


def _routes(product, generation) -> list[tuple[str, str, dict | None]]:
    slug, number, gid = product.slug, product.live_version.number, generation.pk
    dataset_id = Dataset.objects.get(team=product.team).pk
    run_id = TrainingRun.objects.get(team=product.team).pk
    return [
        ("get", f"/api/v1/datasets/{dataset_id}/", None),
        ("post", f"/api/v1/datasets/{dataset_id}/versions/", {"use": "qa:pairs"}),
        ("get", f"/api/v1/products/{slug}/", None),
        # Creating a Q&A product on team A's dataset: the dataset does not exist for team B.
        ("post", "/api/v1/products/", {"kind": "qa", "template": "store-faq", "knowledge_dataset": dataset_id}),
        ("get", f"/api/v1/products/{slug}/versions/", None),
        ("get", f"/api/v1/products/{slug}/versions/{number}/", None),
        ("post", f"/api/v1/products/{slug}/generate/", {"inputs": INPUTS}),
        ("post", f"/api/v1/products/{slug}/generate/", {"inputs": INPUTS, "stream": True}),
        ("get", f"/api/v1/products/{slug}/generations/", None),
        ("get", f"/api/v1/products/{slug}/generations/export/", None),
        ("get", f"/api/v1/generations/{gid}/", None),
        ("get", f"/api/v1/products/{slug}/training-runs/", None),
        ("post", f"/api/v1/products/{slug}/training-runs/", {"dataset": dataset_id}),
        ("get", f"/api/v1/training-runs/{run_id}/", None),
        ("post", f"/api/v1/training-runs/{run_id}/cancel/", {}),
        ("post", f"/api/v1/generations/{gid}/feedback/", {"value": -1}),
        ("post", f"/api/v1/products/{slug}/feedback/", {"generation": gid, "event": "click", "item": "a1"}),
        ("get", f"/v1/models/{slug}", None),
        ("post", "/v1/chat/completions", {"model": slug, "messages": [{"role": "user", "content": "hi"}]}),
        ("post", "/v1/chat/completions", {"model": slug, "stream": True,
                                          "messages": [{"role": "user", "content": "hi"}]}),
    ]


def test_every_api_route_with_an_id_is_in_the_isolation_list(team_a_objects):
    """A new endpoint that takes an id must be added to _routes (and so be checked for team scoping)."""
    _, product, generation = team_a_objects
    covered = {resolve(path).route for _, path, _ in _routes(product, generation)}
    api = next(p for p in get_resolver().url_patterns if str(p.pattern) == "api/")
    v1 = next(p for p in api.url_patterns if str(p.pattern) == "v1/")
    openai = next(p for p in get_resolver().url_patterns if str(p.pattern) == "v1/")
    with_ids = {f"api/v1/{p.pattern}" for p in v1.url_patterns if "<" in str(p.pattern)}
    with_ids |= {f"v1/{p.pattern}" for p in openai.url_patterns if "<" in str(p.pattern)}
    assert with_ids and with_ids <= covered, with_ids - covered


def test_team_b_key_gets_404_on_every_route_of_team_a_objects(team_a_objects, make_team, make_key):
    _, product, generation = team_a_objects
    client = bearer(make_key(make_team("Other")))
    for method, path, body in _routes(product, generation):
        response = getattr(client, method)(path, body, format="json") if body is not None else client.get(path)
        assert response.status_code == 404, (method, path, response.status_code, response.content[:200])
        assert b"Secret launch" not in response.content and b"Trail running" not in response.content
    generation.refresh_from_db()
    assert generation.feedback == 0
    assert DatasetVersion.objects.count() == 1  # no version was added to team A's dataset
    assert Generation.objects.count() == 1  # nothing was generated for team B with team A's product
    assert not Product.objects.filter(kind="qa").exists()  # no Q&A product was made on team A's dataset
    assert list(TrainingRun.objects.values_list("status", flat=True)) == ["queued"]  # not cancelled, none added


def test_team_b_lists_show_none_of_team_a(team_a_objects, make_team, make_key, make_product):
    team_b = make_team("Other")
    make_product(team_b, name="Own product")
    client = bearer(make_key(team_b))
    assert [p["slug"] for p in client.get("/api/v1/products/").json()["results"]] == ["own-product"]
    assert [m["id"] for m in client.get("/v1/models").json()["data"]] == ["own-product"]
    assert client.get("/api/v1/datasets/").json()["count"] == 0
