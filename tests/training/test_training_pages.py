"""Fine-tuning pages without a model: start with an estimate, the run page, cancel, ship; roles and team isolation."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from inference.models import EvaluationReport, ModelArtifact, TrainingMetric, TrainingRun
from inference.training import services as worker
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
    watched = client.get(reverse("training_run", args=[team.slug, run.pk]))
    assert watched.status_code == 200
    watched = watched.content.decode()
    assert f'data-ws-path="/ws/t/shop/training/{run.pk}/"' in watched and "waiting for a worker" in watched
    assert "Cancel</button>" not in watched and 'id="cancel-form"' not in watched
    page = client.get(reverse("fine_tune", args=[team.slug, product.slug])).content.decode()
    assert "Viewers can watch runs; ask an editor to start one." in page
    assert '<button class="button" type="submit">Fine-tune</button>' not in page
    assert client.post(reverse("fine_tune", args=[team.slug, product.slug]),
                       {"dataset_version": run.dataset_version_id}).status_code == 403
    assert client.post(reverse("training_run_cancel", args=[team.slug, run.pk])).status_code == 403
    assert TrainingRun.objects.get().status == "queued" and TrainingRun.objects.count() == 1


def test_a_viewer_reads_the_report_of_a_finished_run_but_cannot_make_a_version_from_it(client, shop, make_run,
                                                                                       make_member):
    team, _, product = shop
    run = _succeeded(make_run())
    client.force_login(make_member(team, Role.VIEWER).user)
    page = client.get(reverse("training_run", args=[team.slug, run.pk])).content.decode()
    assert "the tuned model's loss is <strong>1.500</strong> against 3.000" in page and "Zesty pick! Oak." in page
    assert "Create a version with this model" not in page
    assert client.post(reverse("training_run_version_create", args=[team.slug, run.pk])).status_code == 403
    assert not product.versions.exists() and Product.objects.get(pk=product.pk).fine_tuned_artifact is None


def _running(run: TrainingRun) -> TrainingRun:
    """A run half-way through, written by the same services the worker calls."""
    worker.training_run_claim(worker="w", lease_seconds=600)
    worker.training_run_prepared(run_id=run.pk, worker="w", train_examples=11, validation_examples=1,
                                   total_steps=6, device="cpu", resumed_from_step=None,
                                   message="Training on the CPU: 11 examples, 6 steps, 0% padding.")
    for step, points in ((1, [("train", 1, 2.9)]), (2, [("train", 2, 2.5), ("validation", 2, 2.7)])):
        worker.training_run_progress_record(run_id=run.pk, worker="w", step=step, train_loss=points[0][2],
                                              tokens_seen=80 * step, seconds_per_step=20.0, points=points)
    worker.training_run_checkpoint_record(run_id=run.pk, worker="w", step=2)
    worker.training_run_progress_record(run_id=run.pk, worker="w", step=3, train_loss=2.1, tokens_seen=240,
                                          seconds_per_step=20.0, points=[("train", 3, 2.1)])
    return TrainingRun.objects.get(pk=run.pk)


def test_reloading_a_running_runs_page_shows_where_it_is_now(owner_client, shop, make_run):
    team, _, _ = shop
    run = _running(make_run())
    page = owner_client.get(reverse("training_run", args=[team.slug, run.pk])).content.decode()
    assert '<span class="tag status-running" id="run-status" data-testid="run-status">Running</span>' in page
    assert '<span id="run-step" data-testid="run-step">3</span> of <span id="run-total">6</span>' in page
    assert '<dd id="run-eta">about a minute</dd>' in page  # 3 steps left at 20 s a step
    assert '<dd id="run-train-loss">2.100</dd>' in page and '<dd id="run-validation-loss">2.700</dd>' in page
    assert '<dd id="run-checkpoint">step 2</dd>' in page and '<dd id="run-device">CPU</dd>' in page
    assert "Training on the CPU: 11 examples, 6 steps, 0% padding." in page and "Saved a checkpoint at step 2." in page
    # The curves so far on a 6-step axis: training at steps 1–3 (2.9 at the top, 2.1 at the bottom), validation at 2.
    assert 'points="130.7,36.0 225.3,120.0 320.0,204.0"' in page and 'points="225.3,78.0"' in page
    assert ">Cancel</button>" in page
    assert "The report appears here when training finishes" in page


def test_the_loss_chart_fragment_is_fetched_again_with_every_new_point_and_drawn_only_by_the_server(
    owner_client, shop, make_run
):
    team, _, _ = shop
    run = _running(make_run())
    chart_url = reverse("training_run_chart", args=[team.slug, run.pk])
    page = owner_client.get(reverse("training_run", args=[team.slug, run.pk])).content.decode()
    assert f'hx-get="{chart_url}" hx-trigger="training-progress from:body"' in page
    worker.training_run_progress_record(run_id=run.pk, worker="w", step=4, train_loss=1.7, tokens_seen=320,
                                        seconds_per_step=20.0, points=[("train", 4, 1.7)])
    fragment = owner_client.get(chart_url, HTTP_HX_REQUEST="true").content.decode()
    assert fragment.lstrip().startswith('<figure class="loss-chart" id="loss-chart-figure"')
    # Step 4 is the new lowest loss: the earlier points move up, the new one sits on the bottom axis.
    assert 'points="130.7,36.0 225.3,92.0 320.0,148.0 414.7,204.0"' in fragment and "<html" not in fragment
    script = (Path(settings.BASE_DIR) / "products/static/products/training_run.js").read_text()
    assert "polyline" not in script and "setAttribute(\"points\"" not in script  # no second drawing in JS


def test_a_run_that_ran_out_of_memory_says_why_and_what_to_change_on_its_page(owner_client, shop, make_run):
    from inference.training.pipeline import out_of_memory_message
    from products.training.hyperparameters import HyperParameters

    team, _, _ = shop
    run = make_run(batch_size=8)
    worker.training_run_claim(worker="w", lease_seconds=600)
    # What the pipeline records when PyTorch raises its out-of-memory error (see test_failures.py).
    worker.training_run_fail(run_id=run.pk, worker="w",
                               error=out_of_memory_message(HyperParameters.from_dict(run.hyperparameters)))
    page = owner_client.get(reverse("training_run", args=[team.slug, run.pk])).content.decode()
    message = ("The model ran out of memory at batch size 8. Try a smaller batch size (or a shorter maximum length) "
               "under “Advanced settings”, then start the run again.")
    assert f'<p class="errors" id="run-error" role="alert" >{message}</p>' in page
    assert f"</time> {message}</li>" in page  # and as the last line of the log
    assert '<span class="tag status-failed" id="run-status" data-testid="run-status">Failed</span>' in page
    assert "No report: the run did not finish training." in page and "Cancel</button>" not in page


def test_a_run_whose_worker_was_lost_on_every_attempt_says_how_often_it_was_retried(owner_client, shop, make_run,
                                                                                  settings):
    team, _, _ = shop
    settings.TRAINING_MAX_ATTEMPTS = 3
    run = make_run()
    for _ in range(3):
        worker.training_run_claim(worker="doomed", lease_seconds=600)
        TrainingRun.objects.filter(pk=run.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
        worker.training_runs_requeue_expired()
    page = owner_client.get(reverse("training_run", args=[team.slug, run.pk])).content.decode()
    message = ("The training worker was lost (its machine stopped, restarted or ran out of memory) and the run was "
               "retried 2 times, then given up. Start it again; if it keeps stopping, try a smaller batch size under "
               "“Advanced settings”.")
    assert f'<p class="errors" id="run-error" role="alert" >{message}</p>' in page
    assert "Started (attempt 3 of 3)." in page
    assert "The worker stopped responding; the run is queued again and will resume from the start." in page
    assert '<dd id="run-attempts">3</dd>' in page and TrainingRun.objects.get().status == "failed"


def test_the_dashboard_still_says_which_runs_ended_after_a_reload_for_every_member(client, shop, make_run,
                                                                                    make_member):
    team, _, _ = shop
    succeeded, failed, running, old = _succeeded(make_run()), make_run(), make_run(), make_run()
    worker.training_run_claim(worker="w", lease_seconds=600)  # takes `failed`, the oldest queued
    worker.training_run_fail(run_id=failed.pk, worker="w", error="Training stopped because of an error: boom.")
    worker.training_run_claim(worker="w", lease_seconds=600)  # `running`
    TrainingRun.objects.filter(pk=old.pk).update(status="succeeded",
                                                 finished_at=timezone.now() - timedelta(days=2))
    client.force_login(make_member(team, Role.VIEWER).user)
    page = client.get(reverse("dashboard", args=[team.slug])).content.decode()
    notices = page.split('<div id="team-notices"', 1)[1].split("</div>", 1)[0]
    assert (f'<a href="/t/shop/training/{failed.pk}/">Training run {failed.pk}</a> of Product description failed.'
            in notices)
    assert (f'<a href="/t/shop/training/{succeeded.pk}/">Training run {succeeded.pk}</a> of Product description '
            "finished." in notices)
    assert notices.index(f"Training run {failed.pk}<") < notices.index(f"Training run {succeeded.pk}<")  # latest first
    assert f"Training run {running.pk}<" not in notices and f"Training run {old.pk}<" not in notices
    assert notices.count('data-testid="training-notice"') == 2


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
        ("get", reverse("training_run_chart", args=[team.slug, run.pk])),
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
async def test_a_viewer_follows_a_run_live_from_a_snapshot_of_where_it_is(shop, make_run, make_member):
    team, _, _ = shop
    run = await database_sync_to_async(lambda: _running(make_run()))()
    viewer = await database_sync_to_async(lambda: make_member(team, Role.VIEWER).user)()
    cookie = await _session_cookie_for(viewer)
    communicator = WebsocketCommunicator(application, f"/ws/t/{team.slug}/training/{run.pk}/", headers=[
        (b"origin", b"http://localhost"), (b"host", b"localhost"), (b"cookie", cookie.encode())])
    assert (await communicator.connect())[0]
    snapshot = await communicator.receive_json_from(timeout=5)
    assert (snapshot["event"], snapshot["status"], snapshot["step"], snapshot["total_steps"]) == (
        "snapshot", "running", 3, 6)
    assert (snapshot["eta_seconds"], snapshot["checkpoint_step"], snapshot["validation_loss"]) == (60.0, 2, 2.7)
    assert [(p["split"], p["step"]) for p in snapshot["points"]] == [
        ("train", 1), ("train", 2), ("validation", 2), ("train", 3)]
    assert snapshot["logs"][-1]["message"] == "Saved a checkpoint at step 2."

    # The next save reaches the viewer's page live, after it commits.
    await database_sync_to_async(worker.training_run_progress_record)(
        run_id=run.pk, worker="w", step=4, train_loss=1.8, tokens_seen=320, seconds_per_step=20.0,
        points=[("train", 4, 1.8), ("validation", 4, 2.2)], message="Step 4 done.")
    frame = await communicator.receive_json_from(timeout=5)
    assert (frame["event"], frame["step"], frame["eta_seconds"], frame["validation_loss"]) == (
        "progress", 4, 40.0, 2.2)
    assert frame["points"] == [{"split": "train", "step": 4, "loss": 1.8},
                               {"split": "validation", "step": 4, "loss": 2.2}]
    assert [line["message"] for line in frame["logs"]] == ["Step 4 done."]
    await communicator.send_json_to({"action": "cancel"})
    assert await communicator.receive_json_from(timeout=5) == {
        "event": "error", "code": "read_only",
        "message": "This socket only reports progress; cancel with the page's button."}
    assert not (await database_sync_to_async(TrainingRun.objects.get)(pk=run.pk)).cancel_requested
    await communicator.disconnect()


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
