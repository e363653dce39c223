"""Fine-tuning pages without a model: start with an estimate, the run page, cancel, ship; roles and team isolation."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.urls import reverse
from django.utils import timezone

from inference.models import EvaluationReport, ModelArtifact, TrainingMetric, TrainingRun
from products.models import Product
from studio.asgi import application
from studio.roles import Role
from tests.studio.test_websocket_routing import _session_cookie_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner_client(client, shop):
    team, owner, product = shop
    client.force_login(owner)
    return client


def _succeeded(run: TrainingRun) -> TrainingRun:
    """A run as the worker leaves it after success (the files themselves are not needed by the pages)."""
    TrainingRun.objects.filter(pk=run.pk).update(status="succeeded", step=6, total_steps=6, finished_at=timezone.now())
    ModelArtifact.objects.create(team_id=run.team_id, run=run, base_model=run.base_model, path="training/x",
                                 sha256="ab" * 32, size_bytes=1234, files=[])
    EvaluationReport.objects.create(
        run=run, examples=1, base_loss=3.0, tuned_loss=1.5, base_perplexity=20.1, tuned_perplexity=4.5,
        scores={"base": {"bleu": 1.0, "rouge1": 10.0, "rougeL": 9.0}, "tuned": {"bleu": 30.0, "rouge1": 50.0,
                                                                                  "rougeL": 45.0}},
        samples=[{"prompt": "Write about the Oak Stool", "base": "A stool.", "tuned": "Zesty pick! Oak.",
                  "reference": "Zesty pick! The Oak Stool."}],
    )
    return TrainingRun.objects.get(pk=run.pk)


def test_the_fine_tune_tab_offers_the_teams_versions_with_defaults_and_an_estimate(owner_client, shop,
                                                                                   make_dataset_version):
    team, _, product = shop
    version = make_dataset_version()
    page = owner_client.get(reverse("fine_tune", args=[team.slug, product.slug])).content.decode()
    assert f'<option value="{version.pk}" selected>Descriptions v1 · 11 to train on, 1 held out</option>' in page
    assert "11 to train on, 1 held out" in page and "Expected time" in page and "on the CPU" in page
    assert "LoRA rank 16, learning rate 0.001, 4 epochs, batch size 4" in page
    assert 'name="epochs"' in page and 'placeholder="automatic"' in page


def test_the_estimate_follows_the_advanced_settings_and_names_a_bad_value(owner_client, shop, make_dataset_version):
    team, _, product = shop
    version = make_dataset_version()
    url = reverse("fine_tune_estimate", args=[team.slug, product.slug])
    fragment = owner_client.get(url, {"dataset_version": version.pk, "epochs": "2"}, HTTP_HX_REQUEST="true")
    assert fragment.content.decode().lstrip().startswith('<section class="panel" id="estimate"')
    assert "2 epochs" in fragment.content.decode() and "<html" not in fragment.content.decode()
    bad = owner_client.get(url, {"dataset_version": version.pk, "epochs": "0"}, HTTP_HX_REQUEST="true")
    assert "<p>Epochs: Ensure this value is greater than or equal to 1.</p>" in bad.content.decode()
    assert not TrainingRun.objects.exists()


def test_starting_a_fine_tune_queues_a_run_and_opens_its_page(owner_client, shop, make_dataset_version):
    team, owner, product = shop
    version = make_dataset_version()
    response = owner_client.post(reverse("fine_tune", args=[team.slug, product.slug]),
                                 {"dataset_version": version.pk, "epochs": "2", "learning_rate": ""})
    run = TrainingRun.objects.get()
    assert response.status_code == 302 and response.url == reverse("training_run", args=[team.slug, run.pk])
    assert (run.product, run.dataset_version, run.created_by, run.hyperparameters["epochs"]) == (
        product, version, owner, 2)
    page = owner_client.get(response.url).content.decode()
    assert "Training run" in page and "Queued" in page and "waiting for a worker" in page
    assert f"Queued by {owner.email}: Descriptions v1, 2 epochs, batch size 4." in page
    assert 'data-ws-path="/ws/t/shop/training/' in page and ">Cancel</button>" in page


def test_a_too_small_dataset_is_refused_next_to_the_picker_with_the_minimum(owner_client, shop, make_dataset_version):
    from tests.training.conftest import ROWS

    team, _, product = shop
    version = make_dataset_version(ROWS[:10])
    response = owner_client.post(reverse("fine_tune", args=[team.slug, product.slug]), {"dataset_version": version.pk})
    assert response.status_code == 200
    assert "This dataset version has 9 training examples; fine-tuning needs at least 10." in response.content.decode()
    assert not TrainingRun.objects.exists()


def test_a_viewer_watches_runs_but_cannot_start_or_cancel_them(client, shop, make_run, make_member):
    team, _, product = shop
    run = make_run()
    viewer = make_member(team, Role.VIEWER).user
    client.force_login(viewer)
    assert client.get(reverse("training_run", args=[team.slug, run.pk])).status_code == 200
    page = client.get(reverse("fine_tune", args=[team.slug, product.slug])).content.decode()
    assert "ask an editor to start one" in page
    assert client.post(reverse("fine_tune", args=[team.slug, product.slug]),
                       {"dataset_version": run.dataset_version_id}).status_code == 403
    assert client.post(reverse("training_run_cancel", args=[team.slug, run.pk])).status_code == 403
    assert TrainingRun.objects.get().status == "queued" and TrainingRun.objects.count() == 1


def test_cancel_on_the_run_page_cancels_a_queued_run(owner_client, shop, make_run):
    team, _, _ = shop
    run = make_run()
    response = owner_client.post(reverse("training_run_cancel", args=[team.slug, run.pk]), follow=True)
    assert TrainingRun.objects.get().status == "cancelled"
    assert "Cancelled." in response.content.decode()


def test_the_run_page_draws_the_loss_curve_and_the_report_and_ships_the_model(owner_client, shop, make_run):
    team, _, product = shop
    run = _succeeded(make_run())
    TrainingMetric.objects.bulk_create([TrainingMetric(run=run, split="train", step=s, loss=3.0 - s / 3)
                                        for s in (1, 2, 3)])
    page = owner_client.get(reverse("training_run", args=[team.slug, run.pk])).content.decode()
    assert 'points="130.7,36.0 225.3,120.0 320.0,204.0"' in page  # steps 1–3 of 6, the highest loss at the top
    assert "Succeeded" in page and "the tuned model's loss is <strong>1.500</strong> against 3.000" in page
    assert "Zesty pick! Oak." in page and "Create a version with this model" in page

    report = owner_client.get(reverse("training_run", args=[team.slug, run.pk]), HTTP_HX_REQUEST="true")
    assert report.content.decode().lstrip().startswith('<section class="panel" id="run-report"')

    response = owner_client.post(reverse("training_run_version_create", args=[team.slug, run.pk]), follow=True)
    product = Product.objects.get(pk=product.pk)
    version = product.versions.get()
    assert version.fine_tuned_artifact == product.fine_tuned_artifact == run.artifact
    assert f"Saved version {version.number} with the fine-tuned model" in response.content.decode()
    assert "Fine-tuned model changed." not in response.content.decode()  # first version: nothing to compare
    playground = owner_client.get(reverse("playground", args=[team.slug, product.slug])).content.decode()
    link = f'with the fine-tuned model of <a href="/t/shop/training/{run.pk}/">training run {run.pk}</a>'
    assert link in playground


def test_a_run_that_did_not_succeed_cannot_become_a_version(owner_client, shop, make_run):
    team, _, product = shop
    run = make_run()
    response = owner_client.post(reverse("training_run_version_create", args=[team.slug, run.pk]), follow=True)
    assert "Only a run that succeeded has a model to make a version from." in response.content.decode()
    assert not product.versions.exists()


def test_the_dashboard_links_runs_and_the_dataset_version_lists_the_run_as_a_use(owner_client, shop, make_run):
    team, _, _ = shop
    run = make_run()
    dashboard = owner_client.get(reverse("dashboard", args=[team.slug])).content.decode()
    assert f'href="/t/shop/training/{run.pk}/"' in dashboard and 'data-events-path="/ws/teams/shop/"' in dashboard
    version = run.dataset_version
    page = owner_client.get(reverse("dataset_version", args=[team.slug, version.dataset_id, version.number]))
    assert f'<a href="/t/shop/training/{run.pk}/">Training run {run.pk}</a>' in page.content.decode()
    owner_client.post(reverse("dataset_version_delete", args=[team.slug, version.dataset_id, version.number]))
    assert version.__class__.objects.filter(pk=version.pk).exists()


def test_another_team_gets_404_on_every_training_page(client, shop, make_run, make_team):
    team, _, product = shop
    run = make_run()
    stranger = make_team("Rivals").memberships.get().user
    client.force_login(stranger)
    pages = [
        ("get", reverse("training_run", args=[team.slug, run.pk])),
        ("get", reverse("training_runs", args=[team.slug])),
        ("get", reverse("fine_tune", args=[team.slug, product.slug])),
        ("get", reverse("fine_tune_estimate", args=[team.slug, product.slug])),
        ("post", reverse("fine_tune", args=[team.slug, product.slug])),
        ("post", reverse("training_run_cancel", args=[team.slug, run.pk])),
        ("post", reverse("training_run_version_create", args=[team.slug, run.pk])),
        # Their own team's URL with our run's id: still not found.
        ("get", reverse("training_run", args=["rivals", run.pk])),
        ("post", reverse("training_run_cancel", args=["rivals", run.pk])),
    ]
    for method, url in pages:
        assert getattr(client, method)(url).status_code == 404, url
    assert TrainingRun.objects.get().status == "queued"


@pytest.mark.django_db(transaction=True)
async def test_the_run_socket_refuses_other_teams_and_greets_members_with_a_snapshot(shop, make_run, make_team):
    team, owner, _ = shop
    run = await database_sync_to_async(make_run)()
    stranger = await database_sync_to_async(lambda: make_team("Rivals").memberships.get().user)()
    for user, path in ((stranger, f"/ws/t/{team.slug}/training/{run.pk}/"),
                       (stranger, f"/ws/t/rivals/training/{run.pk}/")):
        cookie = await _session_cookie_for(user)
        communicator = WebsocketCommunicator(application, path, headers=[
            (b"origin", b"http://localhost"), (b"host", b"localhost"), (b"cookie", cookie.encode())])
        assert await communicator.connect() == (False, 4403)
    cookie = await _session_cookie_for(owner)
    communicator = WebsocketCommunicator(application, f"/ws/t/{team.slug}/training/{run.pk}/", headers=[
        (b"origin", b"http://localhost"), (b"host", b"localhost"), (b"cookie", cookie.encode())])
    assert (await communicator.connect())[0]
    snapshot = await communicator.receive_json_from(timeout=5)
    assert (snapshot["event"], snapshot["run"], snapshot["status"], snapshot["total_steps"]) == (
        "snapshot", run.pk, "queued", 6)
    assert [line["message"] for line in snapshot["logs"]] == [f"Queued by {owner.email}: Descriptions v1, 1 epoch, "
                                                              "batch size 2."]
    await communicator.disconnect()
