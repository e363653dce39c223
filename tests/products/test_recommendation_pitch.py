"""“Write a one-sentence pitch per item” with the real parts: a recommender trained on the shipped sample, the
bundled SmolLM2 writing through the studio's own worker and scheduler, asked over the REST API."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.urls import reverse

from products.kinds.recommendation import PITCH_ITEMS
from products.services import product_kind_config_update, product_version_publish
from products.training.services import product_version_create_from_run
from tests.api.test_generate_stream import KeyClient
from tests.products.test_classification_kind import _publish_for_widget_and_api, _with_worker
from tests.products.test_recommendation_kind import trained  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.model
async def test_with_the_setting_on_the_top_items_come_back_with_a_pitch_and_with_it_off_none_do(
    shop_reco, trained  # noqa: F811
):
    _, owner, product = shop_reco
    version = await database_sync_to_async(product_version_create_from_run)(run=trained, user=owner)
    await database_sync_to_async(product_version_publish)(product=product, version=version)
    api = KeyClient(await database_sync_to_async(_publish_for_widget_and_api)(product, owner))
    url = f"/api/v1/products/{product.slug}/generate/"

    async def ask_with(pitch: str) -> dict:
        changed = await database_sync_to_async(product_kind_config_update)(
            product=product, user=owner, changes={"pitch": pitch})
        await database_sync_to_async(product_version_publish)(product=product, version=changed)
        response = await _with_worker(api.post(url, {"inputs": {"user": "u001", "k": 5}}))
        assert response.status_code == 200, response.content
        return response.json()

    on = await ask_with("Yes")
    items = on["result"]["items"]
    assert len(items) == 5 and "pitch_error" not in on["result"]
    pitches = [item["pitch"] for item in items[:PITCH_ITEMS]]
    assert all(pitch.strip() and "\n" not in pitch and len(pitch) < 400 for pitch in pitches), pitches
    assert not any("pitch" in item for item in items[PITCH_ITEMS:])
    assert on["sources"] == [{k: v for k, v in item.items() if k != "pitch"} for item in items]
    assert on["usage"]["completion_tokens"] > 0

    off = await ask_with("No")
    assert [item["id"] for item in off["result"]["items"]] == [item["id"] for item in items]  # the same ranking
    assert not any("pitch" in item for item in off["result"]["items"]) and "sources" not in off
    assert off["usage"]["completion_tokens"] == 0


def test_the_versions_page_offers_the_pitch_off_by_default_and_saves_it_as_a_new_version(client, shop_reco):
    team, owner, product = shop_reco
    client.force_login(owner)
    page = client.get(reverse("versions", args=[team.slug, product.slug])).content.decode()
    assert "Write a one-sentence pitch per item" in page
    assert '<option value="No" selected>No</option>' in page
    url = reverse("version_kind_config", args=[team.slug, product.slug])
    response = client.post(url, {"config-pitch": "Yes"}, follow=True)
    assert product.versions.get().kind_config["pitch"] == "Yes"
    assert "Saved version 1: Write a one-sentence pitch per item set to Yes." in response.content.decode()
    refused = client.post(url, {"config-pitch": "Maybe"}, follow=True).content.decode()
    assert "Write a one-sentence pitch per item must be one of: No, Yes." in refused
    assert product.versions.count() == 1


def test_saving_the_rules_with_the_pitch_left_off_does_not_name_the_pitch_as_a_change(client, shop_reco):
    team, owner, product = shop_reco
    client.force_login(owner)
    url = reverse("version_kind_config", args=[team.slug, product.slug])
    response = client.post(url, {"config-exclude": "CA001", "config-category": "", "config-pitch": "No"},
                           follow=True).content.decode()
    assert "Saved version 1: Never recommend set to CA001" in response and "pitch" not in response.split(
        "Saved version 1:")[1].split("Publish")[0]
    assert product.versions.get().kind_config["pitch"] == "No"
