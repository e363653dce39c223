"""The recommendation kind end to end: trained on real implicit + MiniLM, then asked over the socket, REST and OpenAI.

The journey trains a recommender on the shipped sample (63 items, 1,120 purchases; ~20 CPU seconds) in the
training worker, reads its report, makes and publishes a version and ranks through the studio's own worker:
a known customer (with reasons from the model, nothing they already bought), an unknown one (popularity,
saying so), a session of viewed items, a similar-items query for an item nobody bought yet, business rules
and click feedback.
"""

from __future__ import annotations

import csv

import numpy as np
import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.urls import reverse

from inference.models import ModelArtifact, TrainingRun, TrainingRunInput
from inference.training.artifacts import sha256_of
from inference.training.recommender.model import Recommender
from inference.training.worker import TrainingWorker
from products.datasets.seed import SAMPLES_DIR
from products.models import FeedbackEvent, Generation
from products.services import product_kind_config_update, product_version_create, product_version_publish
from products.training.services import product_version_create_from_run, training_run_create
from studio.asgi import application
from tests.api.test_generate_stream import KeyClient
from tests.products.test_classification_kind import _frames, _publish_for_widget_and_api, _with_worker
from tests.studio.test_websocket_routing import _session_cookie_for

pytestmark = pytest.mark.django_db(transaction=True)

def _bought(user: str) -> set[str]:
    with (SAMPLES_DIR / "shop_interactions.csv").open(newline="") as handle:
        return {row["sku"] for row in csv.DictReader(handle) if row["customer_id"] == user}


@pytest.fixture
def trained(shop_reco, make_reco_version):
    """The shop's recommender trained by the real training worker on the shipped sample."""
    _, owner, product = shop_reco
    run = training_run_create(product=product, dataset_version=make_reco_version("interactions"),
                              catalog_version=make_reco_version("catalog"), user=owner)
    assert TrainingWorker(poll_seconds=1).run_once() is True
    run.refresh_from_db()
    assert run.status == "succeeded", run.error
    return run


def _get(client, name: str, args: list, params: dict | None = None) -> str:
    return client.get(reverse(name, args=args), params or {}).content.decode()


def _check_items(result: dict, k: int = 10) -> list[dict]:
    items = result["items"]
    assert len(items) == k
    assert all(0.0 <= item["score"] <= 1.0 and item["reason"] and item["title"] for item in items)
    scores = [item["score"] for item in items]
    assert scores == sorted(scores, reverse=True)
    return items


async def test_a_recommender_trained_on_the_sample_beats_popularity_and_serves_reasons_on_every_transport(
    client, shop_reco, trained
):
    team, owner, product = shop_reco
    run = trained
    evaluation = await database_sync_to_async(lambda: run.evaluation)()
    metrics = evaluation.metrics
    methods = metrics["methods"]
    assert metrics["kind"] == "recommender" and set(methods) == {"hybrid", "als", "content", "popularity"}
    assert metrics["held_out_users"] == evaluation.examples > 100
    for figures in methods.values():
        assert 0 <= figures["recall_at_10"] <= 1 and 0 <= figures["ndcg_at_10"] <= 1 and 0 < figures["coverage"] <= 1
    assert methods["hybrid"]["ndcg_at_10"] > methods["popularity"]["ndcg_at_10"]
    assert methods["hybrid"]["coverage"] > methods["popularity"]["coverage"]
    assert metrics["cold_users"]["served"]["ndcg_at_10"] >= metrics["cold_users"]["popularity"]["ndcg_at_10"]
    assert metrics["weight"] in [row["weight"] for row in metrics["weights"]] and len(metrics["weights"]) == 7
    best = max(metrics["blends"], key=lambda row: row["ndcg"])  # the validation slice's best of 4 × 3
    assert len(metrics["blends"]) == 12 and (best["recency"], best["neighbour_share"], best["weight"]) == (
        metrics["recency"], metrics["neighbour_share"], metrics["weight"])
    assert 1 <= len(metrics["examples"]) <= 5 and all(e["recommended"] and e["chose_next"] for e in metrics["examples"])
    assert await TrainingRunInput.objects.filter(run=run, role="catalog").aexists()

    # The artifact: arrays in .npz (read without pickle) and a JSON file, with hashes.
    artifact = await ModelArtifact.objects.aget(run=run)
    assert artifact.kind == "recommender" and {f["name"] for f in artifact.files} == {"recommender.npz",
                                                                                      "recommender.json"}
    assert artifact.sha256 == sha256_of(artifact.directory / "recommender.npz")
    assert artifact.metadata["items"] == 63 and artifact.metadata["users"] == 140
    served = Recommender.load(artifact.directory)  # each user's items in time order, at the chosen recency
    assert served.recency == metrics["recency"] and len(served.history_age) == served.history.nnz
    assert served.neighbour_share == metrics["neighbour_share"]
    if served.neighbour_share:
        assert served.neighbours.shape == (63, 63)
        assert np.diff(served.neighbours.indptr).max() <= 20  # each item's 20 nearest at most: sparse at any size
    else:  # no share: no item-item model in the artifact
        assert served.neighbours is None

    # The run page: the bar chart of the measures side by side, the table, the example users.
    get = sync_to_async(_get)
    await sync_to_async(client.force_login)(owner)
    page = await get(client, "training_run", [team.slug, run.pk])
    assert 'data-testid="recommender-report"' in page and 'data-testid="metrics-chart"' in page
    assert page.count('class="bar-hybrid"') == 3 and page.count('class="bar-popularity"') == 3
    assert "Hybrid (trained): NDCG@10 " in page and 'data-testid="example-user"' in page
    assert "Create a version with this model" in page
    # The Train tab: the pre-flight of the two datasets.
    train = await get(client, "fine_tune", [team.slug, product.slug])
    assert 'data-testid="recommender-preflight"' in train and "Train recommender" in train
    assert "<dt>Users</dt><dd>140</dd>" in train and "63 in the catalog, 3 without any interaction" in train

    version = await database_sync_to_async(product_version_create_from_run)(run=run, user=owner)
    await database_sync_to_async(product_version_publish)(product=product, version=version)
    secret = await database_sync_to_async(_publish_for_widget_and_api)(product, owner)
    api = KeyClient(secret)
    url = f"/api/v1/products/{product.slug}/generate/"

    async def transports():
        cookie = await _session_cookie_for(owner)
        communicator = WebsocketCommunicator(
            application, f"/ws/t/{team.slug}/products/{product.slug}/generate/",
            headers=[(b"origin", b"http://localhost"), (b"host", b"localhost"), (b"cookie", cookie.encode())])
        assert (await communicator.connect())[0]
        await communicator.send_json_to({"action": "generate", "inputs": {"user": "u001"}})
        socket = await _frames(communicator)
        await communicator.disconnect()
        answers = {name: await api.post(url, {"inputs": inputs}) for name, inputs in {
            "known": {"user": "u001", "k": 10}, "unknown": {"user": "somebody-new"},
            "session": {"items": ["CA001", "CA002", "CA003"]}, "cold_item": {"item": "CA061", "k": 5},
            "missing": {"k": 3},
        }.items()}
        openai = await api.post("/v1/chat/completions", {"model": product.slug,
                                                         "messages": [{"role": "user", "content": "u001"}]})
        return socket, answers, openai

    socket, answers, openai = await _with_worker(transports())
    assert [frame["event"] for frame in socket] == ["start", "done"]  # a ranked list: no token stream
    assert socket[-1]["result"] == answers["known"].json()["result"]

    known = answers["known"].json()
    assert answers["known"].status_code == 200 and "fallback" not in known["result"]
    items = _check_items(known["result"])
    assert not {item["id"] for item in items} & _bought("u001")  # never what they already bought
    assert any(item["reason"].startswith("Because you liked ") for item in items)  # implicit's explain
    assert all(item["reason"].startswith(("Because you liked ", "Similar to ")) for item in items)
    assert all(item["link"].startswith("https://shop.example/p/") and item["image"] for item in items)
    assert known["text"] == ", ".join(item["title"] for item in items)

    unknown = answers["unknown"].json()["result"]
    assert unknown["fallback"].startswith("We have no history for this customer yet")
    assert all(item["reason"].startswith("Popular: chosen by ") for item in _check_items(unknown))

    session = answers["session"].json()["result"]
    assert not {item["id"] for item in _check_items(session)} & {"CA001", "CA002", "CA003"}
    assert sum(item["id"].startswith("CA") for item in session["items"]) >= 5  # camping gear after camping gear

    cold_item = answers["cold_item"].json()["result"]
    assert cold_item["fallback"].startswith("Nobody has chosen Ultralight bivvy bag yet")
    assert all(item["reason"].startswith("Similar to Ultralight bivvy bag") for item in _check_items(cold_item, 5))

    assert answers["missing"].status_code == 400
    assert "Customer id is required (or send “user”, “items” or “item”)." in answers["missing"].content.decode()

    assert openai.status_code == 400
    assert openai.json()["error"]["message"] == (
        f"“{product.name}” is a recommendations product: its answers are not chat messages. Call "
        f"POST /api/v1/products/{product.slug}/generate/ instead.")

    # A click on a recommended item is reported back; an item it never recommended is refused by name.
    generation = known["generation"]
    feedback = f"/api/v1/generations/{generation}/feedback/"
    clicked = await api.post(feedback, {"event": "click", "item": items[0]["id"]})
    assert clicked.status_code == 200, clicked.content
    event = await FeedbackEvent.objects.aget(generation_id=generation)
    assert (event.kind, event.item, event.product_id) == ("click", items[0]["id"], product.pk)
    wrong = await api.post(feedback, {"event": "purchase", "item": "CA001"})
    assert wrong.status_code == 400 and "“CA001” is not one of the items this generation recommended" in \
        wrong.content.decode()
    assert await FeedbackEvent.objects.acount() == 1

    # Business rules are part of a version: never the first item, and only kitchen items.
    update = database_sync_to_async(product_kind_config_update)
    ruled = await update(product=product, user=owner, changes={"exclude": items[0]["id"], "category": "Kitchen"})
    await database_sync_to_async(product_version_publish)(product=product, version=ruled)
    limited = (await _with_worker(api.post(url, {"inputs": {"user": "u001", "k": 5}}))).json()["result"]
    assert items[0]["id"] not in {item["id"] for item in limited["items"]}
    assert limited["items"] and all(item["category"] == "Kitchen" for item in limited["items"])
    assert await Generation.objects.filter(product=product, status="finished").acount() == 6


@pytest.fixture
def untrained(shop_reco):
    team, owner, product = shop_reco
    product_version_publish(product=product, version=product_version_create(product=product, user=owner))
    return team, owner, product, _publish_for_widget_and_api(product, owner)


async def test_before_any_training_the_api_refuses_with_train_the_recommender_first(untrained):
    _, _, product, secret = untrained
    rest = await KeyClient(secret).post(f"/api/v1/products/{product.slug}/generate/", {"inputs": {"user": "u1"}})
    from products.kinds.recommendation import NOT_TRAINED

    assert rest.status_code == 409 and NOT_TRAINED in rest.content.decode()
    assert NOT_TRAINED.startswith("Train the recommender first: Datasets → upload a catalog")
    assert not await Generation.objects.aexists()


def test_pages_draw_recommendations_with_the_items_renderer_and_partial_and_the_widget_gets_it(client, shop_reco):
    team, owner, product = shop_reco
    Generation.objects.create(team=team, product=product, status="finished", result={
        "items": [{"id": "CA002", "title": "Down sleeping bag", "score": 0.91, "reason": "Because you liked Tent",
                   "link": "https://shop.example/p/CA002"}], "fallback": ""})
    client.force_login(owner)
    page = client.get(reverse("playground", args=[team.slug, product.slug])).content.decode()
    assert "products/renderers/items.js" in page and 'data-renderer="items"' in page
    assert '<a href="https://shop.example/p/CA002" rel="noopener nofollow">Down sleeping bag</a>' in page
    assert "— Because you liked Tent · 0.91" in page
    # One input form for the three ways to ask: a customer, viewed items, one item.
    assert 'name="user"' in page and 'name="items"' in page and 'name="item"' in page
    script = client.get(reverse("widget_script", args=[product.public_key])).content.decode()
    assert ".items = {" in script and '"task": "rank"' in script and "ai-studio:viewed" in script


def test_another_team_gets_404_for_the_recommender_its_run_and_its_train_tab(client, shop_reco, make_reco_version,
                                                                             make_team):
    team, owner, product = shop_reco
    run = training_run_create(product=product, dataset_version=make_reco_version("interactions"),
                              catalog_version=make_reco_version("catalog"), user=owner)
    assert (run.method, run.queue, run.base_model) == ("recommender", "short", "all-minilm-l6-v2")
    stranger = make_team("Elsewhere").memberships.get().user
    client.force_login(stranger)
    own_slug = stranger.memberships.get().team.slug
    assert client.get(reverse("training_run", args=[own_slug, run.pk])).status_code == 404
    assert client.get(reverse("playground", args=[own_slug, product.slug])).status_code == 404
    assert client.get(reverse("fine_tune", args=[own_slug, product.slug])).status_code == 404
    assert client.get(reverse("training_run", args=[team.slug, run.pk])).status_code in (403, 404)
    # Another team's datasets cannot be trained on either.
    other = stranger.memberships.get().team
    from django.core.exceptions import ValidationError

    foreign = make_reco_version("catalog", name="Their catalog", team=other, user=stranger)
    with pytest.raises(ValidationError) as refused:
        training_run_create(product=product, dataset_version=run.dataset_version, catalog_version=foreign,
                            user=owner)
    assert refused.value.message_dict == {"catalog_version": ["Choose a dataset version of this team."]}
    assert TrainingRun.objects.count() == 1


def test_the_versions_page_saves_business_rules_as_a_new_version(client, shop_reco):
    team, owner, product = shop_reco
    client.force_login(owner)
    page = client.get(reverse("versions", args=[team.slug, product.slug])).content.decode()
    assert 'name="config-exclude"' in page and 'name="config-category"' in page
    url = reverse("version_kind_config", args=[team.slug, product.slug])
    response = client.post(url, {"config-exclude": " CA001,CA002 ,, CA001", "config-category": " Camping "},
                           follow=True)
    version = product.versions.get()
    assert (version.kind_config["exclude"], version.kind_config["category"]) == ("CA001, CA002", "Camping")
    assert "Saved version 1:" in response.content.decode()


async def test_the_api_starts_a_recommender_run_on_interactions_and_a_catalog_and_says_when_the_catalog_is_missing(
    shop_reco, make_reco_version
):
    team, owner, product = shop_reco
    make = database_sync_to_async(make_reco_version)
    interactions, catalog = await make("interactions"), await make("catalog")
    from products.api.services import api_key_create

    key = await database_sync_to_async(api_key_create)(team=team, user=owner, name="Ops", scope="manage")
    api = KeyClient(key.secret)
    url = f"/api/v1/products/{product.slug}/training-runs/"
    missing = await api.post(url, {"dataset": interactions.dataset_id})
    assert missing.status_code == 400 and "Choose the catalog (the items to recommend)" in missing.content.decode()
    started = await api.post(url, {"dataset": interactions.dataset_id, "catalog": catalog.dataset_id})
    assert started.status_code == 201, started.content
    run = await TrainingRun.objects.aget(pk=started.json()["id"])
    assert run.method == "recommender" and run.dataset_version_id == interactions.pk
    assert await TrainingRunInput.objects.filter(run=run, role="catalog", dataset_version=catalog).aexists()
