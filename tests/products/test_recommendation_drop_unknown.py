"""“Drop these N interactions”: the Train tab's fix for interactions naming items the catalog does not have."""

from __future__ import annotations

import pytest
from django.urls import reverse

from products.datasets.selectors import stored_rows
from products.models import DatasetVersion
from tests.training.recommender_fixtures import rows_csv, sample_rows

pytestmark = pytest.mark.django_db


@pytest.fixture
def unknown_pair(shop_reco, make_reco_version):
    """(interactions v1 with two rows naming items not in the catalog, on lines 5 and 42; the catalog)."""
    header, rows = sample_rows("shop_interactions.csv")
    rows[3][1], rows[40][1] = "ZZ999", "GONE1"
    return make_reco_version("interactions", rows_csv(header, rows)), make_reco_version("catalog")


def test_the_train_tab_drops_the_interactions_naming_unknown_items_into_a_new_version(client, shop_reco, unknown_pair):
    team, owner, product = shop_reco
    interactions, catalog = unknown_pair
    client.force_login(owner)
    url = reverse("fine_tune", args=[team.slug, product.slug])
    page = client.get(url).content.decode()
    assert "(lines 5, 42); training leaves them out." in page and "Drop these 2 interactions" in page

    response = client.post(reverse("recommender_drop_unknown", args=[team.slug, product.slug]),
                           {"dataset_version": interactions.pk, "catalog_version": catalog.pk})
    fixed = DatasetVersion.objects.get(dataset=interactions.dataset, number=2)
    assert response.status_code == 302
    assert response["Location"] == f"{url}?dataset_version={fixed.pk}&catalog_version={catalog.pk}"
    assert (fixed.row_count, interactions.row_count) == (1118, 1120)
    assert fixed.note == "From v1: dropped 2 rows naming items not in the catalog Shop catalog v1."
    assert (fixed.derived_from, fixed.shape, fixed.column_mapping) == (interactions, "interactions",
                                                                       interactions.column_mapping)
    items = [row["sku"] for _, row in stored_rows(fixed)]
    assert "ZZ999" not in items and "GONE1" not in items and len(items) == 1118
    assert sum(1 for _ in stored_rows(interactions)) == 1120  # the original stays as it was

    after = client.get(response["Location"]).content.decode()
    assert f"Saved {fixed}: {fixed.note}" in after
    assert f'<option value="{fixed.pk}" selected>' in after
    assert "training leaves them out" not in after and "Drop these" not in after

    again = client.post(reverse("recommender_drop_unknown", args=[team.slug, product.slug]),
                        {"dataset_version": fixed.pk, "catalog_version": catalog.pk}, follow=True)
    assert "Nothing to drop in v2: no row is naming items not in the catalog Shop catalog v1." in \
        again.content.decode()
    assert DatasetVersion.objects.filter(dataset=interactions.dataset).count() == 2


def test_another_team_gets_404_for_the_drop_and_nothing_is_saved(client, shop_reco, unknown_pair, make_team):
    team, _, product = shop_reco
    interactions, catalog = unknown_pair
    stranger = make_team("Elsewhere").memberships.get().user
    client.force_login(stranger)
    body = {"dataset_version": interactions.pk, "catalog_version": catalog.pk}
    own = stranger.memberships.get().team.slug
    assert client.post(reverse("recommender_drop_unknown", args=[own, product.slug]), body).status_code == 404
    assert client.post(reverse("recommender_drop_unknown", args=[team.slug, product.slug]), body).status_code in (
        403, 404)
    assert DatasetVersion.objects.filter(dataset=interactions.dataset).count() == 1
