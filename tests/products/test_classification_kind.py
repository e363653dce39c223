"""The classification kind on every surface: trained on real MiniLM, then asked through the socket, REST and OpenAI.

The journey test trains a real classifier in the training worker (a few CPU seconds), reads its report on
the run page, makes and publishes a version and classifies through the studio's own worker. The other
tests use a real MiniLM classifier artifact built without a run (tests/training/classifier_fixtures.py),
registered as a run's artifact, so they cost no training.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.urls import reverse

from inference.models import EvaluationReport, ModelArtifact, TrainingRun
from inference.training.artifacts import sha256_of
from inference.training.worker import TrainingWorker
from inference.worker import InferenceWorker
from products.api.services import api_key_create
from products.embed.services import product_embed_update
from products.models import Generation
from products.services import product_kind_config_update, product_version_create, product_version_publish
from products.training.services import product_version_create_from_run, training_run_create
from studio.asgi import application
from tests.api.test_generate_stream import KeyClient
from tests.studio.test_websocket_routing import _session_cookie_for
from tests.training.classifier_fixtures import TINY_CLASSIFIER, publish_trained_version

pytestmark = pytest.mark.django_db(transaction=True)

SHOP = "https://shop.example"
TEXT = "My parcel never arrived and the tracking has not moved for a week."


async def _frames(communicator) -> list[dict]:
    frames = [await communicator.receive_json_from(timeout=30)]
    while frames[-1]["event"] not in ("done", "error"):
        frames.append(await communicator.receive_json_from(timeout=30))
    return frames


def _playground(team_slug: str, product_slug: str, cookie: str) -> WebsocketCommunicator:
    return WebsocketCommunicator(application, f"/ws/t/{team_slug}/products/{product_slug}/generate/",
                                 headers=[(b"origin", b"http://localhost"), (b"host", b"localhost"),
                                          (b"cookie", cookie.encode())])


async def _with_worker(coroutine):
    """Run ``coroutine`` while the studio's own inference worker (its runner registry) serves requests."""
    task = asyncio.create_task(InferenceWorker(get_channel_layer()).run())
    try:
        return await coroutine
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def _publish_for_widget_and_api(product, owner) -> str:
    cache.clear()
    product_embed_update(product=product, allowed_origins=[SHOP], messages_per_visitor_hour=20, messages_per_day=100)
    return api_key_create(team=product.team, user=owner, name="Backend", scope="generate").secret


@pytest.fixture
def trained(router, make_labelled_version):
    """The router trained by the real training worker on 45 labelled texts (real MiniLM, one CPU epoch)."""
    _, owner, product = router
    run = training_run_create(product=product, dataset_version=make_labelled_version(), user=owner,
                              overrides=TINY_CLASSIFIER)
    assert TrainingWorker(poll_seconds=1).run_once() is True
    run.refresh_from_db()
    assert run.status == "succeeded", run.error
    return run


def _get(client, name: str, args: list, params: dict | None = None) -> str:
    return client.get(reverse(name, args=args), params or {}).content.decode()


@pytest.mark.model
async def test_a_classifier_trained_on_real_minilm_reports_beside_its_baseline_and_answers_on_every_transport(
    client, router, trained
):
    team, owner, product = router
    run = trained
    report = await EvaluationReport.objects.aget(run=run)
    metrics = report.metrics

    # The report: scikit-learn's numbers for the fine-tuned model and the frozen baseline, on the same 15 rows.
    assert report.examples == 15 and metrics["kind"] == "classifier"
    assert metrics["labels"] == ["account", "billing", "shipping"]
    for model in ("tuned", "base"):
        assert 0 <= metrics[model]["accuracy"] <= 1 and 0 <= metrics[model]["macro_f1"] <= 1
        assert [row["support"] for row in metrics[model]["per_class"]] == [5, 5, 5]
        assert sum(map(sum, metrics[model]["confusion"])) == 15
    assert metrics["base"]["name"] == "Frozen MiniLM embeddings + logistic regression"
    assert metrics["tuned"]["accuracy"] >= 0.8  # three clearly different topics: even one epoch separates them
    calibration = metrics["tuned"]["calibration"]
    assert sum(b["count"] for b in calibration["bins"]) == 15 and calibration["temperature"] > 0
    assert [e["epoch"] for e in metrics["epochs"]] == [1] and metrics["epochs"][0]["split"] == "dev"
    assert await run.metrics.filter(split="validation").acount() == 1  # the validation point on the run's curve
    messages = [m async for m in run.log_entries.values_list("message", flat=True)]
    assert any(m.startswith("Epoch 1 of 1: dev accuracy ") for m in messages)

    # The artifact: safetensors, the label map, hashes.
    artifact = await ModelArtifact.objects.aget(run=run)
    assert artifact.kind == "classifier" and artifact.metadata["labels"] == ["account", "billing", "shipping"]
    names = {f["name"] for f in artifact.files}
    assert {"model.safetensors", "classifier.json", "config.json", "tokenizer.json"} <= names
    assert not names & {"pytorch_model.bin", "model.pt"}
    assert artifact.sha256 == sha256_of(artifact.directory / "model.safetensors")
    assert json.loads((artifact.directory / "classifier.json").read_text())["labels"] == artifact.metadata["labels"]

    # The run page draws the report: measures beside the baseline, the per-label table, the heat-map.
    get = sync_to_async(_get)
    await sync_to_async(client.force_login)(owner)
    page = await get(client, "training_run", [team.slug, run.pk])
    assert 'data-testid="classifier-report"' in page and 'id="confusion-matrix"' in page
    assert "the baseline anyone would try first, Frozen MiniLM embeddings + logistic regression, trained" in page
    assert page.count('class="heat-') >= 9 and "diagonal" in page
    assert "Classifier, " in page and "Create a version with this model" in page
    # A cell of the matrix lists its texts (a link without JavaScript, an htmx fragment with it).
    right = metrics["tuned"]["confusion"][2][2]
    cell = await get(client, "training_run_confusion_cell", [team.slug, run.pk], {"true": 2, "predicted": 2})
    assert f"Labelled “shipping”, chosen “shipping”: {right} text" in cell
    linked = await get(client, "training_run", [team.slug, run.pk], {"true": 2, "predicted": 2})
    assert f"Labelled “shipping”, chosen “shipping”: {right} text" in linked
    # The threshold slider: what share would be "unsure", and the accuracy on the rest, for any threshold.
    never = await get(client, "training_run_threshold", [team.slug, run.pk], {"threshold": "0"})
    accuracy = metrics["tuned"]["accuracy"]
    assert (f"Below 0.00: 0 of 15 held-out texts (0 %) would be answered “unsure”; accuracy on the other 15: "
            f"{accuracy:.3f}.") in never
    unsure = sum(c < 0.9 for c in metrics["tuned"]["predictions"]["confidence"])
    at_90 = await get(client, "training_run_threshold", [team.slug, run.pk], {"threshold": "0.9"})
    assert f"Below 0.90: {unsure} of 15 held-out texts" in at_90

    version = await database_sync_to_async(product_version_create_from_run)(run=run, user=owner)
    assert version.fine_tuned_artifact_id == artifact.pk and version.base_model == "all-minilm-l6-v2"
    await database_sync_to_async(product_version_publish)(product=product, version=version)
    secret = await database_sync_to_async(_publish_for_widget_and_api)(product, owner)

    async def transports():
        cookie = await _session_cookie_for(owner)
        communicator = _playground(team.slug, product.slug, cookie)
        assert (await communicator.connect())[0]
        await communicator.send_json_to({"action": "generate", "inputs": {"text": TEXT}})
        socket = await _frames(communicator)
        await communicator.disconnect()
        api = KeyClient(secret)
        rest = await api.post(f"/api/v1/products/{product.slug}/generate/", {"inputs": {"text": TEXT}})
        openai = await api.post("/v1/chat/completions", {"model": product.slug,
                                                         "messages": [{"role": "user", "content": TEXT}]})
        return socket, rest, openai

    socket, rest, openai = await _with_worker(transports())
    start, done = socket
    assert start["event"] == "start" and done["event"] == "done"
    result = done["result"]
    assert result["label"] == "shipping" and result["top_label"] == "shipping" and result["unsure"] is False
    assert sum(result["probabilities"].values()) == pytest.approx(1.0)
    assert set(result["probabilities"]) == {"account", "billing", "shipping"}

    assert rest.status_code == 200, rest.content
    assert rest.json()["result"]["label"] == "shipping" and rest.json()["text"] == "shipping"
    assert sum(rest.json()["result"]["probabilities"].values()) == pytest.approx(1.0)
    assert openai.status_code == 200, openai.content
    body = openai.json()
    assert body["choices"][0]["message"]["content"] == "shipping"
    assert body["studio"]["result"]["probabilities"] == rest.json()["result"]["probabilities"]
    assert await Generation.objects.filter(product=product, status="finished").acount() == 3


@pytest.fixture
def served(router, make_labelled_version, classifier_artifact, media_root):
    """The router with a published version serving a real MiniLM classifier (built without a run)."""
    team, owner, product = router
    publish_trained_version(product=product, user=owner, dataset_version=make_labelled_version(),
                            artifact=classifier_artifact, media_root=media_root)
    secret = _publish_for_widget_and_api(product, owner)
    return team, owner, product, secret


@pytest.fixture
def untrained(router):
    """The router published before any training, with no labels to try: every surface refuses."""
    team, owner, product = router
    product.kind_config = {**product.kind_config, "labels": []}
    product.save(update_fields=["kind_config"])
    product_version_publish(product=product, version=product_version_create(product=product, user=owner))
    return team, owner, product, _publish_for_widget_and_api(product, owner)


@pytest.fixture
def untrained_with_labels(router):
    """The router published before any training with its template's labels to try (zero-shot)."""
    team, owner, product = router
    product_version_publish(product=product, version=product_version_create(product=product, user=owner))
    return team, owner, product, _publish_for_widget_and_api(product, owner)


async def test_before_any_training_every_transport_refuses_with_train_the_classifier_first(untrained):
    team, owner, product, secret = untrained
    cookie = await _session_cookie_for(owner)
    communicator = _playground(team.slug, product.slug, cookie)
    assert (await communicator.connect())[0]
    await communicator.send_json_to({"action": "generate", "inputs": {"text": TEXT}})
    frame = await communicator.receive_json_from(timeout=10)
    await communicator.disconnect()
    rest = await KeyClient(secret).post(f"/api/v1/products/{product.slug}/generate/", {"inputs": {"text": TEXT}})

    # Imported here, not at collection: importing the kind's module first would register it before the others.
    from products.kinds.classification import NOT_TRAINED

    assert frame == {"event": "error", "code": "not_trained", "message": NOT_TRAINED}
    assert NOT_TRAINED.startswith("Train the classifier first: Datasets → ")
    assert rest.status_code == 409 and NOT_TRAINED in rest.content.decode()
    assert not await Generation.objects.aexists()  # refused before anything was logged or counted


async def test_the_unsure_threshold_is_part_of_the_version_and_below_it_the_answer_is_unsure(served):
    team, owner, product, secret = served

    async def ask():
        return await KeyClient(secret).post(f"/api/v1/products/{product.slug}/generate/",
                                            {"inputs": {"text": "I was charged twice for one order."}})

    sure = (await _with_worker(ask())).json()["result"]
    assert (sure["label"], sure["unsure"]) == ("billing", False) and sure["confidence"] < 0.999

    update = database_sync_to_async(product_kind_config_update)
    version = await update(product=product, user=owner, changes={"unsure_below": 0.999})
    assert version.kind_config["unsure_below"] == 0.999 and version.number == 2
    await database_sync_to_async(product_version_publish)(product=product, version=version)
    unsure = (await _with_worker(ask())).json()
    assert (unsure["result"]["label"], unsure["result"]["top_label"], unsure["result"]["unsure"]) == (
        "unsure", "billing", True)
    assert unsure["text"] == "unsure"
    assert unsure["result"]["probabilities"] == pytest.approx(sure["probabilities"])

    with pytest.raises(ValidationError) as refused:
        await update(product=product, user=owner, changes={"unsure_below": 1.5})
    assert refused.value.message_dict == {"kind_config": [
        "“Unsure below” is a confidence from 0 to 0.99 (e.g. 0.6: answers under 60 % confident say “unsure”); "
        "0 never says unsure."]}


async def test_the_widget_classifies_what_a_visitor_typed(served):
    _, _, product, _ = served

    async def visit():
        communicator = WebsocketCommunicator(application, f"/ws/widget/{product.public_key}/",
                                             headers=[(b"host", b"studio.example"), (b"origin", SHOP.encode())])
        communicator.scope["client"] = ("198.51.100.9", 5000)
        assert (await communicator.connect())[0]
        await communicator.send_json_to({"action": "generate", "message": "How do I reset my password?"})
        frames = await _frames(communicator)
        await communicator.disconnect()
        return frames

    done = (await _with_worker(visit()))[-1]
    assert done["event"] == "done" and done["result"]["label"] == "account"
    assert sum(done["result"]["probabilities"].values()) == pytest.approx(1.0)


def test_pages_draw_results_with_the_label_renderer_and_partial(client, served):
    team, owner, product, _ = served
    Generation.objects.create(team=team, product=product, status="finished", result={
        "label": "unsure", "top_label": "billing", "unsure": True, "confidence": 0.41,
        "probabilities": {"billing": 0.41, "account": 0.35, "shipping": 0.24}})
    client.force_login(owner)
    page = client.get(reverse("playground", args=[team.slug, product.slug])).content.decode()
    assert "products/renderers/label.js" in page and 'data-renderer="label"' in page
    assert "unsure <span class=\"muted small\">(maybe billing)</span>" in page
    script = client.get(reverse("widget_script", args=[product.public_key])).content.decode()
    assert ".label = {" in script


def test_another_team_gets_404_for_the_classifier_its_run_and_its_dataset(client, served, make_team):
    team, _, product, _ = served
    run = TrainingRun.objects.get(product=product)
    stranger = make_team("Elsewhere").memberships.get().user
    client.force_login(stranger)
    own_slug = stranger.memberships.get().team.slug
    assert client.get(reverse("training_run", args=[own_slug, run.pk])).status_code == 404
    assert client.get(reverse("playground", args=[own_slug, product.slug])).status_code == 404
    assert client.get(reverse("fine_tune", args=[own_slug, product.slug])).status_code == 404
    assert client.get(reverse("training_run", args=[team.slug, run.pk])).status_code in (403, 404)


def test_the_versions_page_saves_unsure_below_as_a_new_version_and_refuses_a_value_out_of_range(client, router):
    team, owner, product = router
    client.force_login(owner)
    page = client.get(reverse("versions", args=[team.slug, product.slug])).content.decode()
    assert 'id="kind-config-form"' in page and 'name="config-unsure_below"' in page and 'value="0.5"' in page
    url = reverse("version_kind_config", args=[team.slug, product.slug])
    response = client.post(url, {"config-unsure_below": "0.8"}, follow=True)
    version = product.versions.get()
    assert (version.number, version.kind_config["unsure_below"], version.note) == (1, 0.8, "Unsure below set to 0.8.")
    assert "Saved version 1: Unsure below set to 0.8. Publish it to make it live." in response.content.decode()
    refused = client.post(url, {"config-unsure_below": "1.5"}, follow=True).content.decode()
    assert "Unsure below must be at most 0.99." in refused and product.versions.count() == 1


def test_the_versions_page_shows_the_labels_to_try_as_text_and_saves_them_as_a_new_version(client, router):
    team, owner, product = router
    client.force_login(owner)
    page = client.get(reverse("versions", args=[team.slug, product.slug])).content.decode()
    assert 'name="config-labels"' in page and 'value="shipping, returns, billing, product, account"' in page
    url = reverse("version_kind_config", args=[team.slug, product.slug])
    client.post(url, {"config-unsure_below": "0.5", "config-labels": " refund ,  delivery, Refund "})
    version = product.versions.get()
    assert version.kind_config["labels"] == ["refund", "delivery"]
    assert version.note == "Labels to try before training set to refund, delivery."
    refused = client.post(url, {"config-labels": "only one"}, follow=True).content.decode()
    assert "Give at least two labels to try, separated by commas." in refused and product.versions.count() == 1


@pytest.mark.parametrize(("reply", "label"), [
    ("billing", "billing"), (" Billing.", "billing"), ("The category is: Returns", "returns"),
    ("shipping or billing", "shipping"), ("accounting", None), ("", None),
])
def test_a_zero_shot_reply_maps_to_the_label_it_names_first_as_a_whole_word(reply, label):
    from inference.runners.classify import zero_shot_label

    assert zero_shot_label(reply, ["shipping", "returns", "billing", "product", "account"]) == label


def test_a_zero_shot_reply_naming_not_spam_is_not_read_as_spam():
    from inference.runners.classify import zero_shot_label

    assert zero_shot_label("Not spam", ["spam", "not spam"]) == "not spam"
    assert zero_shot_label("spam", ["spam", "not spam"]) == "spam"


async def test_before_training_the_base_model_picks_one_of_the_labels_on_the_socket_and_the_api(untrained_with_labels):
    team, owner, product, secret = untrained_with_labels
    cookie = await _session_cookie_for(owner)

    async def transports():
        communicator = _playground(team.slug, product.slug, cookie)
        assert (await communicator.connect())[0]
        await communicator.send_json_to({"action": "generate", "inputs": {"text": TEXT}})
        frames = await _frames(communicator)
        await communicator.disconnect()
        rest = await KeyClient(secret).post(f"/api/v1/products/{product.slug}/generate/", {"inputs": {"text": TEXT}})
        return frames, rest

    frames, rest = await _with_worker(transports())
    done = frames[-1]
    assert done["event"] == "done", frames
    assert [frame["event"] for frame in frames if frame["event"] == "token"] == []  # the label only, no words
    result = done["result"]
    assert result["zero_shot"] is True and result["probabilities"] == {} and result["confidence"] is None
    assert result["label"] in ("shipping", "returns", "billing", "product", "account", "unsure")
    assert result["unsure"] is (result["label"] == "unsure")
    assert done["usage"]["completion_tokens"] >= 1 and done["usage"]["prompt_tokens"] > 20
    assert rest.status_code == 200 and rest.json()["result"] == result  # greedy: the same pick
    generation = await Generation.objects.alatest("id")
    assert generation.result == result and generation.tokens_out == done["usage"]["completion_tokens"]
