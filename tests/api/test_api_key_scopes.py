"""A generate key generates; only a manage key changes the team's data (uploads) or spends its training time."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from inference.models import TrainingRun
from products.api.authentication import CanManage
from products.models import ApiKey, Dataset, DatasetUpload
from tests.api.conftest import bearer
from tests.products.conftest import GOOD_CSV, media_files
from tests.training.conftest import ROWS, dataset_csv

pytestmark = pytest.mark.django_db
MANAGE_NEEDED = (
    "This API key cannot change the team's data. Create a key with the “Read, generate and manage” "
    "scope on the API keys page to upload datasets and to start fine-tunes or cancel them."
)


def _upload(client, path="/api/v1/datasets/", data=GOOD_CSV, use="qa:pairs", mapping=None, name="FAQ"):
    fields = {"name": name, "use": use, "file": SimpleUploadedFile("faq.csv", data)}
    if mapping:
        fields["column_mapping"] = json.dumps(mapping)
    return client.post(path, fields, format="multipart")


def test_scopes_include_the_ones_below_them():
    allowed = {
        scope: [s for s in ApiKey.Scope.values if ApiKey(scope=scope).allows(s)] for scope in ApiKey.Scope.values
    }
    assert allowed == {"read": ["read"], "generate": ["read", "generate"], "manage": ["read", "generate", "manage"]}
    assert CanManage.message == MANAGE_NEEDED


def test_a_generate_key_cannot_upload_a_dataset_and_nothing_is_stored(make_team, make_key, media_root):
    team = make_team("Acme")
    generator = bearer(make_key(team, scope=ApiKey.Scope.GENERATE))
    response = _upload(generator)
    assert response.status_code == 403 and response.json() == {"detail": MANAGE_NEEDED}
    dataset_id = _upload(bearer(make_key(team, scope=ApiKey.Scope.MANAGE, name="Admin job"))).json()["id"]
    again = _upload(generator, f"/api/v1/datasets/{dataset_id}/versions/")
    assert again.status_code == 403 and again.json() == {"detail": MANAGE_NEEDED}
    assert Dataset.objects.get().versions.count() == 1
    assert not DatasetUpload.objects.exists() and len(media_files(media_root)) == 1
    assert generator.get("/api/v1/datasets/").json()["count"] == 1  # reading is still fine


def test_a_generate_key_cannot_start_or_cancel_a_fine_tune(make_team, make_key, make_product):
    team = make_team("Acme")
    product = make_product(team, name="Descriptions", template_id="product-description")
    manager = bearer(make_key(team, scope=ApiKey.Scope.MANAGE))
    dataset = _upload(manager, data=dataset_csv(ROWS), use="copywriting:examples", name="Descriptions",
                      mapping={"inputs": ["product", "features"], "output": ["description"]}).json()
    run = manager.post(f"/api/v1/products/{product.slug}/training-runs/", {"dataset": dataset["id"]}, format="json")
    assert run.status_code == 201, run.json()

    generator = bearer(make_key(team, scope=ApiKey.Scope.GENERATE, name="Site"))
    start = generator.post(f"/api/v1/products/{product.slug}/training-runs/", {"dataset": dataset["id"]},
                           format="json")
    cancel = generator.post(f"/api/v1/training-runs/{run.json()['id']}/cancel/")
    assert (start.status_code, cancel.status_code) == (403, 403)
    assert start.json() == cancel.json() == {"detail": MANAGE_NEEDED}
    assert TrainingRun.objects.count() == 1 and TrainingRun.objects.get().status == "queued"
    assert generator.get("/api/v1/training-runs/").json()["count"] == 1


def test_the_api_keys_page_offers_the_manage_scope(owner_client):
    from django.urls import reverse

    url = reverse("api_keys", args=[owner_client.team.slug])
    page = owner_client.get(url).content.decode()
    assert "Read, generate and manage" in page and "start or stop fine-tunes" in page
    owner_client.post(url, {"name": "Nightly import", "scope": "manage"})
    assert ApiKey.objects.get().scope == "manage"
