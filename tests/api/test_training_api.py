"""Fine-tuning through the API: start, list, read, cancel, and what a key may and may not do."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from inference.models import TrainingLogEntry, TrainingRun
from inference.training.worker import TrainingWorker
from products.api.views.training import SettingsSerializer
from products.models import ApiKey
from products.training.hyperparameters import HyperParameters
from tests.api.conftest import bearer
from tests.training.conftest import ROWS, TINY, dataset_csv

pytestmark = pytest.mark.django_db


def _upload_dataset(client, rows=ROWS, name: str = "Descriptions") -> dict:
    response = client.post("/api/v1/datasets/", {
        "name": name, "use": "copywriting:examples", "validation_fraction": 0.1,
        "file": SimpleUploadedFile("descriptions.csv", dataset_csv(rows), content_type="text/csv"),
        "column_mapping": json.dumps({"inputs": ["product", "features"], "output": ["description"]}),
    }, format="multipart")
    assert response.status_code == 201, response.json()
    return response.json()


@pytest.fixture
def acme(make_team, make_key, make_product):
    """(team, product, client with a manage key, uploaded dataset) for a team called Acme."""
    team = make_team("Acme")
    product = make_product(team, name="Descriptions", template_id="product-description")
    client = bearer(make_key(team, name="Nightly job"))
    return team, product, client, _upload_dataset(client)


def test_settings_the_api_accepts_are_exactly_the_ones_a_person_may_set_on_the_page():
    assert set(SettingsSerializer().fields) == set(HyperParameters.LIMITS)


def test_start_queues_a_run_with_chosen_settings_and_the_log_names_the_key(acme):
    team, product, client, dataset = acme
    response = client.post(f"/api/v1/products/{product.slug}/training-runs/",
                           {"dataset": dataset["id"], "settings": {"epochs": 2, "batch_size": 4}}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    run = TrainingRun.objects.get(pk=body["id"])
    assert (run.status, run.team_id, run.dataset_version.number) == ("queued", team.pk, 1)
    assert (body["status"], body["dataset"], body["dataset_version"], body["product"]) == (
        "queued", dataset["id"], 1, product.slug)
    assert (body["settings"]["epochs"], body["settings"]["batch_size"], body["total_steps"]) == (2, 4, 6)
    assert body["page"] == f"/t/{team.slug}/training/{run.pk}/"
    assert body["evaluation"] is None and body["artifact"] is None
    assert run.created_by == team.memberships.get().user
    log = TrainingLogEntry.objects.get(run=run).message
    assert log.startswith("Queued by API key “Nightly job” (sk_") and "2 epochs, batch size 4" in log


def test_start_names_each_setting_out_of_range_and_queues_nothing(acme):
    _, product, client, dataset = acme
    response = client.post(f"/api/v1/products/{product.slug}/training-runs/",
                           {"dataset": dataset["id"], "settings": {"epochs": 0, "learning_rate": 1}}, format="json")
    assert response.status_code == 400
    assert response.json() == {"settings": {"epochs": ["Epochs must be between 1 and 50."],
                                            "learning_rate": ["Learning rate must be between 1e-06 and 0.01."]}}
    assert not TrainingRun.objects.exists()


def test_start_refuses_a_dataset_too_small_to_learn_from(acme):
    _, product, client, _ = acme
    small = _upload_dataset(client, rows=ROWS[:5], name="Small")  # one of the five is held out
    response = client.post(f"/api/v1/products/{product.slug}/training-runs/", {"dataset": small["id"]},
                           format="json")
    assert response.status_code == 400
    assert response.json()["dataset_version"] == [
        "This dataset version has 4 training examples; fine-tuning needs at least 10. Add rows to the dataset "
        "(or hold fewer rows out for validation) and try again."]
    assert not TrainingRun.objects.exists()


def test_start_with_an_unknown_dataset_version_is_404(acme):
    _, product, client, dataset = acme
    response = client.post(f"/api/v1/products/{product.slug}/training-runs/",
                           {"dataset": dataset["id"], "dataset_version": 7}, format="json")
    assert response.status_code == 404 and not TrainingRun.objects.exists()


def test_list_filters_by_status_and_cancel_stops_a_queued_run_once(acme):
    team, product, client, dataset = acme
    first = client.post(f"/api/v1/products/{product.slug}/training-runs/", {"dataset": dataset["id"]},
                        format="json").json()
    second = client.post(f"/api/v1/products/{product.slug}/training-runs/", {"dataset": dataset["id"]},
                         format="json").json()
    cancelled = client.post(f"/api/v1/training-runs/{first['id']}/cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert TrainingRun.objects.get(pk=first["id"]).status == "cancelled"
    again = client.post(f"/api/v1/training-runs/{first['id']}/cancel/")
    assert again.status_code == 409
    assert again.json() == {"detail": "This run has already ended (cancelled); there is nothing to cancel."}

    everything = client.get("/api/v1/training-runs/").json()
    assert [r["id"] for r in everything["results"]] == [second["id"], first["id"]]
    queued = client.get(f"/api/v1/products/{product.slug}/training-runs/?status=queued").json()
    assert [r["id"] for r in queued["results"]] == [second["id"]]
    assert client.get("/api/v1/training-runs/?status=finished").status_code == 400
    assert client.get(f"/api/v1/training-runs/{second['id']}/").json()["status"] == "queued"


def test_a_read_only_key_can_list_runs_but_not_start_or_cancel_them(acme, make_key):
    team, product, client, dataset = acme
    run = client.post(f"/api/v1/products/{product.slug}/training-runs/", {"dataset": dataset["id"]},
                      format="json").json()
    reader = bearer(make_key(team, scope=ApiKey.Scope.READ, name="Dashboard"))
    assert reader.get("/api/v1/training-runs/").json()["count"] == 1
    start = reader.post(f"/api/v1/products/{product.slug}/training-runs/", {"dataset": dataset["id"]}, format="json")
    cancel = reader.post(f"/api/v1/training-runs/{run['id']}/cancel/")
    assert (start.status_code, cancel.status_code) == (403, 403)
    assert "start fine-tunes" in cancel.json()["detail"]
    assert TrainingRun.objects.count() == 1 and TrainingRun.objects.get().status == "queued"


def test_another_teams_key_finds_no_run_product_or_dataset(acme, make_team, make_key, make_product):
    _, product, client, dataset = acme
    run = client.post(f"/api/v1/products/{product.slug}/training-runs/", {"dataset": dataset["id"]},
                      format="json").json()
    other_team = make_team("Rival")
    own_product = make_product(other_team, name="Theirs")
    rival = bearer(make_key(other_team))
    assert rival.get(f"/api/v1/training-runs/{run['id']}/").status_code == 404
    assert rival.post(f"/api/v1/training-runs/{run['id']}/cancel/").status_code == 404
    assert rival.get("/api/v1/training-runs/").json()["count"] == 0
    assert rival.post(f"/api/v1/products/{product.slug}/training-runs/", {"dataset": dataset["id"]},
                      format="json").status_code == 404
    # Their own product with our dataset: the dataset does not exist for them either.
    assert rival.post(f"/api/v1/products/{own_product.slug}/training-runs/", {"dataset": dataset["id"]},
                      format="json").status_code == 404
    assert TrainingRun.objects.get().status == "queued"


@pytest.mark.model
@pytest.mark.django_db(transaction=True)
def test_a_run_started_through_the_api_trains_and_reports_its_evaluation_and_artifact(acme):
    _, product, client, dataset = acme
    run = client.post(f"/api/v1/products/{product.slug}/training-runs/",
                      {"dataset": dataset["id"], "settings": TINY}, format="json").json()
    assert TrainingWorker(poll_seconds=1).run_once() is True  # committed rows: the worker's queries see them
    body = client.get(f"/api/v1/training-runs/{run['id']}/").json()
    assert (body["status"], body["step"], body["total_steps"], body["percent"]) == ("succeeded", 6, 6, 100)
    assert body["evaluation"]["examples"] == 1 and body["evaluation"]["tuned_loss"] < body["evaluation"]["base_loss"]
    assert len(body["artifact"]["sha256"]) == 64 and body["artifact"]["size_bytes"] > 0
    assert body["train_loss"] is not None and body["error"] == ""
