"""A newer catalog joins a trained recommender without retraining: “Use the new catalog” makes a version whose new
items the worker embeds with MiniLM and serves through the content path, with reasons that say they are new.

Trained on the shipped sample by the real training worker (implicit's ALS + MiniLM, ~20 CPU seconds); the
rank runner's own function ranks, as the inference worker calls it.
"""

from __future__ import annotations

import csv

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from inference.runners import rank
from products.datasets.seed import SAMPLES_DIR
from products.datasets.services import dataset_upload_create, dataset_version_create
from products.generation import generation_request
from products.kinds import get_kind
from products.kinds.base import PrepareContext
from products.models import DatasetVersion
from products.recommendations import services as catalog_services
from products.services import product_version_publish
from products.training.services import product_version_create_from_run
from tests.products.test_recommendation_kind import _bought, trained  # noqa: F401 - the fixture
from tests.training.recommender_fixtures import CATALOG_MAPPING, rows_csv, sample_rows

pytestmark = pytest.mark.django_db(transaction=True)

NEW_TENT = [
    "CA900",
    "Trekking dome tent",
    "Camping",
    "Lightweight 2.1 kg tent for two, sets up in five minutes, waterproof fly.",
    "https://shop.example/images/CA900.jpg",
    "https://shop.example/p/CA900",
]
GONE = "KI020"


def _catalog_v2(catalog_v1: DatasetVersion, owner) -> DatasetVersion:
    """The shop's catalog, version 2: one new tent described like the dome tent CA001, and KI020 sold out."""
    header, rows = sample_rows("shop_catalog.csv")
    rows = [row for row in rows if row[0] != GONE] + [NEW_TENT]
    upload = dataset_upload_create(
        team=catalog_v1.dataset.team,
        user=owner,
        dataset=catalog_v1.dataset,
        file=SimpleUploadedFile("shop_catalog.csv", rows_csv(header, rows)),
    )
    return dataset_version_create(
        source=upload, user=owner, kind="recommendation", shape="catalog", column_mapping=CATALOG_MAPPING
    )


def _rank(version, **inputs) -> dict:
    kind = get_kind("recommendation")
    return rank.recommend(generation_request(kind=kind, config=version, inputs=inputs).request)


def _buyers(item: str) -> set[str]:
    with (SAMPLES_DIR / "shop_interactions.csv").open(newline="") as handle:
        return {row["customer_id"] for row in csv.DictReader(handle) if row["sku"] == item}


def _ids(result: dict) -> list[str]:
    return [item["id"] for item in result["items"]]


def test_use_the_new_catalog_makes_a_version_that_recommends_new_items_by_their_description(
    client,
    shop_reco,
    trained,  # noqa: F811 - the imported fixture
    make_team,
    make_reco_version,
    django_assert_num_queries,
    monkeypatch,
):
    team, owner, product = shop_reco
    v1 = product_version_create_from_run(run=trained, user=owner)
    product_version_publish(product=product, version=v1)
    catalog_v1 = trained.inputs.get(role="catalog").dataset_version
    versions_url = reverse("versions", args=[team.slug, product.slug])
    client.force_login(owner)
    assert 'data-testid="newer-catalog"' not in client.get(versions_url).content.decode()

    catalog_v2 = _catalog_v2(catalog_v1, owner)
    page = client.get(versions_url).content.decode()
    assert "<strong>Shop catalog v2</strong> is newer:\n    1 item the model was not trained on, 1 gone." in page
    assert "Use the new catalog" in page

    # Another team's catalog is not this team's to point at: 404, and no version.
    other = make_team("Other shop")
    foreign = make_reco_version("catalog", team=other, user=other.memberships.get().user, name="Their catalog")
    catalog_url = reverse("version_catalog", args=[team.slug, product.slug])
    assert client.post(catalog_url, {"catalog": foreign.pk}).status_code == 404
    assert product.versions.count() == 1

    # Too many new items to read before the first answer: train instead, says the page; no version.
    with monkeypatch.context() as patch:
        patch.setattr(catalog_services, "MAX_NEW_ITEMS", 0)
        refused = client.post(catalog_url, {"catalog": catalog_v2.pk}, follow=True).content.decode()
    assert (
        "Shop catalog v2 has 1 item the model was not trained on (at most 0 join without training: the worker "
        "reads each one&#x27;s description before the first answer). Train the recommender on this catalog "
        "instead (Fine-tune tab)."
    ) in refused
    assert product.versions.count() == 1

    response = client.post(catalog_url, {"catalog": catalog_v2.pk}, follow=True)
    assert (
        "Saved version 2: Recommends from the catalog Shop catalog v2: 1 item the model was not trained on, "
        "recommended by their descriptions until the next training."
    ) in response.content.decode()
    v2 = product.versions.get(number=2)
    assert v2.kind_config["catalog_version"] == catalog_v2.pk and v2.fine_tuned_artifact_id == v1.fine_tuned_artifact_id
    assert 'data-testid="newer-catalog"' not in response.content.decode()  # the draft now serves the newest

    rank.load_for_catalog.cache_clear()
    # Similar items for the new tent: by its description alone, saying nobody has chosen it yet.
    new_item = _rank(v2, item="CA900")
    assert new_item["fallback"] == (
        "Nobody has chosen Trekking dome tent yet, so these are the items whose descriptions are closest to it."
    )
    assert new_item["items"][0]["id"] == "CA001"
    assert new_item["items"][0]["reason"] == "Similar to Trekking dome tent: both are camping"
    # The new tent among the dome tent's similar items, and for a session that viewed the dome tent.
    for result in (_rank(v2, item="CA001"), _rank(v2, items="CA001")):
        card = next(item for item in result["items"] if item["id"] == "CA900")
        assert card["reason"] == "New in the catalog, similar to Two-person dome tent: both are camping"
        assert card["link"] == "https://shop.example/p/CA900" and 0 <= card["score"] <= 1
    # Embedded once per (artifact, catalog version): three requests, one build.
    info = rank.load_for_catalog.cache_info()
    assert (info.misses, info.hits) == (1, 2)
    # Customers with a longer history who bought the dome tent: a cold item for them, by its description.
    cold = [
        card
        for user in sorted({u for u in _buyers("CA001") if len(_bought(u)) >= 3})
        for card in _rank(v2, user=user)["items"]
        if card["id"] == "CA900"
    ]
    assert cold and all(card["reason"].startswith("New in the catalog, similar to ") for card in cold)

    # The sold-out item is never recommended from the new catalog, even as a popular one.
    popular = _rank(v2, user="somebody-new", k=50)
    assert len(popular["items"]) == 50 and GONE not in _ids(popular)
    assert GONE not in _ids(_rank(v2, item="KI019", k=50))
    # The live version 1 still serves the catalog it was trained on (rolling back is publishing it).
    assert _rank(v1, item="CA900")["fallback"].startswith("“CA900” is not in the trained catalog")
    assert GONE in {item["id"] for k in ("KI019", "KI018") for item in _rank(v1, item=k, k=50)["items"]}

    # prepare costs no query once the version's model is known (per request: nothing but the version row).
    kind = get_kind("recommendation")
    cleaned = kind.clean_inputs(v2, {"user": "u001"})
    context = PrepareContext(settings=generation_request(kind=kind, config=v2, inputs={"user": "u001"}).settings)
    with django_assert_num_queries(0):
        request = kind.prepare(v2, cleaned, context)
    assert request.query["catalog_version"] == catalog_v2.pk

    # A version made from a (new) training run learnt its own catalog: it points at no newer one.
    v3 = product_version_create_from_run(run=trained, user=owner)
    assert "catalog_version" not in v3.kind_config
