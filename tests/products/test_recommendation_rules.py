"""A recommender version's business rules, applied by the worker's rank runner to a real trained model.

The shop's sample catalog gets an ``in_stock`` column (every odd-numbered item is out of stock), the real
training worker trains on it (implicit's ALS + MiniLM, ~20 CPU seconds), and the rules are saved the way the
Versions page saves them (each save a new version); each version's request goes through the rank runner.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from inference.runners import rank
from inference.training.worker import TrainingWorker
from products.kinds import get_kind
from products.kinds.base import PrepareContext
from products.kinds.settings import GenerationSettings
from products.services import product_kind_config_update
from products.training.services import product_version_create_from_run, training_run_create
from tests.training.recommender_fixtures import rows_csv, sample_rows

pytestmark = pytest.mark.django_db(transaction=True)

KIND = get_kind("recommendation")


def _out_of_stock(item: str) -> bool:
    return int(item[2:]) % 2 == 1


@pytest.fixture
def stocked(shop_reco, make_reco_version):
    """(product, owner) with a recommender trained on a catalog that says which items are in stock."""
    _, owner, product = shop_reco
    header, rows = sample_rows("shop_catalog.csv")
    catalog = make_reco_version(
        "catalog", rows_csv([*header, "in_stock"], [[*row, "no" if _out_of_stock(row[0]) else "yes"] for row in rows])
    )
    run = training_run_create(product=product, dataset_version=make_reco_version("interactions"),
                              catalog_version=catalog, user=owner)
    assert TrainingWorker(poll_seconds=1).run_once() is True
    run.refresh_from_db()
    assert run.status == "succeeded", run.error
    product_version_create_from_run(run=run, user=owner)
    product.refresh_from_db()
    rank.excluded_where.cache_clear()
    return product, owner


def _rank(version, **inputs) -> list[dict]:
    request = KIND.prepare(version, KIND.clean_inputs(version, inputs), PrepareContext(settings=GenerationSettings()))
    return rank.recommend(request)["items"]


def _save(product, owner, **changes):
    blank = {"exclude": "", "exclude_where": "", "category": "", "boost": "", "pin": ""}
    return product_kind_config_update(product=product, user=owner, changes={**blank, **changes})


def _ids(items: list[dict]) -> list[str]:
    return [item["id"] for item in items]


def test_rules_change_the_ranking_as_they_say_excluded_never_appear_and_pins_come_first(stocked):
    product, owner = stocked
    plain = _save(product, owner)
    baseline = _rank(plain, user="u001", k=10)
    assert any(_out_of_stock(item) for item in _ids(baseline))  # else the rule below would prove nothing

    # Out of stock by the catalog's column, and one in-stock item by id: on every path, none of them.
    gone = next(item for item in _ids(baseline) if not _out_of_stock(item))
    ruled = _save(product, owner, exclude_where="in_stock = no", exclude=gone)
    for query in ({"user": "u001"}, {"user": "nobody-known"}, {"items": ["CA002", "KI012"]},
                  {"items": ["CA002", "KI012", "CO022", "GA032"]}, {"item": "CA002"}):
        shown = _ids(_rank(ruled, k=20, **query))
        assert len(shown) == 20, query
        assert not [item for item in shown if _out_of_stock(item) or item == gone], query

    # Pins come first, in the shop's order, saying so; the rest is the model's ranking with its own reasons.
    pins = [item for item in ("RE060", "GA040", "CO030") if item not in baseline]
    pinned = _rank(_save(product, owner, pin=", ".join(pins[:2])), user="u001", k=10)
    assert _ids(pinned)[:2] == pins[:2]
    assert [item["reason"] for item in pinned[:2]] == ["Pinned by the shop"] * 2
    assert _ids(pinned)[2:] == [item for item in _ids(baseline) if item not in pins][:8]
    assert all(item["reason"].startswith(("Because you liked ", "Similar to ")) for item in pinned[2:])

    # A boost lifts an item the model ranked low and says the shop promotes it.
    low = _ids(_rank(plain, user="u001", k=30))[25]
    boosted = _rank(_save(product, owner, boost=low), user="u001", k=30)
    place = _ids(boosted).index(low)
    assert place < 25
    assert boosted[place]["reason"].endswith(" · promoted by the shop")
    assert sum(item["reason"].endswith("promoted by the shop") for item in boosted) == 1

    # One category only, and a pin outside it is not shown (the rules say never to show it).
    kitchen = _rank(_save(product, owner, category="Kitchen", pin="RE060"), user="u001", k=5)
    assert {item["category"] for item in kitchen} == {"Kitchen"} and "RE060" not in _ids(kitchen)


def test_bad_rules_are_refused_when_saved_with_what_to_fix(stocked, client):
    product, owner = stocked
    versions = product.versions.count()
    cases = {
        "in_stok = no": "has no column “in_stok”; its columns are sku, name, category, description, image_url, url, "
                        "in_stock.",
        "in_stock": "“in_stock” is not a rule the studio can read. Write the column rule as “column = value”, "
                    "e.g. “in_stock = no”.",
    }
    for rule, words in cases.items():
        with pytest.raises(ValidationError) as refused:
            _save(product, owner, exclude_where=rule)
        assert words in refused.value.messages[0]
    for changes, words in (
        ({"pin": " , ,"}, "“Pin first” names no item id: write ids separated by commas, or leave it empty."),
        ({"boost": "KI012, ZZ999"}, "“Boost” names ZZ999, not in the catalog Shop catalog v1: check the ids."),
        ({"pin": "CA002, CA004, CA006, CA008, CA010, KI012"}, "“Pin first” names 6 items; a version can have at "
                                                              "most 5."),
    ):
        with pytest.raises(ValidationError) as refused:
            _save(product, owner, **changes)
        assert refused.value.messages == [words]
    assert product.versions.count() == versions  # nothing saved

    # On the Versions page the same words come back as a message, not a 500.
    client.force_login(owner)
    response = client.post(reverse("version_kind_config", args=[product.team.slug, product.slug]),
                           {"config-exclude_where": "in_stok = no"}, follow=True)
    assert response.status_code == 200
    assert "has no column “in_stok”" in response.content.decode()
    page = client.get(reverse("versions", args=[product.team.slug, product.slug])).content.decode()
    assert all(f'name="config-{name}"' in page for name in ("exclude", "exclude_where", "category", "boost", "pin"))
