"""Renaming, archiving (and restoring) and deleting a product, as its Settings page and the widget/API see it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from inference.models import TrainingRun
from products.api.services import api_key_create
from products.generation import Actor, GenerationRefused, generation_start
from products.models import Dataset, Generation, Product, ProductVersion, Release
from products.releases.services import release_start
from products.services import (
    generation_create,
    product_archive,
    product_create,
    product_version_create,
    product_version_publish,
)
from studio.roles import Role
from tests.api.conftest import bearer, fresh_rate_limits  # noqa: F401 - autouse: rate limits start from zero

pytestmark = pytest.mark.django_db


@pytest.fixture
def live(owner_client):
    """A published product with two versions, an A/B split on version 2, and a logged generation."""
    product = product_create(
        team=owner_client.team,
        user=owner_client.user,
        kind_id="copywriting",
        template_id="ad-headlines",
        name="Headlines",
    )
    product_version_publish(product=product, version=product_version_create(product=product, user=owner_client.user))
    candidate = product_version_create(product=product, user=owner_client.user, note="two")
    release_start(product=product, candidate=candidate, share_percent=20, user=owner_client.user)
    generation_create(product=product, version=product.live_version, channel="widget", user=None, inputs={})
    product.refresh_from_db()
    return product


def url(name: str, product: Product) -> str:
    return reverse(name, args=[product.team.slug, product.slug])


def test_renaming_keeps_the_address_and_warns_about_a_duplicate_name(owner_client, live):
    product_create(
        team=owner_client.team,
        user=owner_client.user,
        kind_id="copywriting",
        template_id="social-post",
        name="Spring posts",
    )
    response = owner_client.post(url("product_rename", live), {"name": "  spring POSTS "}, follow=True)
    html = response.content.decode()
    assert "Renamed to “spring POSTS”. Its address, API calls and widget stay the same." in html
    assert "Another product in this team is also called “spring POSTS”: people may mix them up." in html
    live.refresh_from_db()
    assert (live.name, live.slug) == ("spring POSTS", "headlines")


def test_a_unique_name_does_not_warn_and_an_empty_one_is_refused(owner_client, live):
    html = owner_client.post(url("product_rename", live), {"name": "Autumn"}, follow=True).content.decode()
    assert "Renamed to “Autumn”." in html and "also called" not in html
    response = owner_client.post(url("product_rename", live), {"name": "   "})
    assert response.status_code == 400 and "Give the product a name." in response.content.decode()
    live.refresh_from_db()
    assert live.name == "Autumn"


def test_creating_a_product_with_a_taken_name_warns(owner_client, live):
    response = owner_client.post(
        reverse("product_new", args=[owner_client.team.slug]),
        {"kind": "copywriting", "template": "ad-headlines", "name": "headlines"},
        follow=True,
    )
    assert "Another product in this team is also called “headlines”" in response.content.decode()
    assert Product.objects.filter(team=owner_client.team).count() == 2


def test_archiving_unpublishes_ends_the_split_keeps_the_logs_and_lists_it_apart(owner_client, live):
    response = owner_client.post(url("product_archive", live), follow=True)
    html = response.content.decode()
    assert "“Headlines” is archived: unpublished, its widget and API answer no one." in html
    live.refresh_from_db()
    assert live.live_version is None and live.archived_at is not None
    assert Release.objects.get().outcome == Release.Outcome.STOPPED
    assert (ProductVersion.objects.filter(product=live).count(), Generation.objects.filter(product=live).count()) == (
        2,
        1,
    )
    main, archived = html.split('id="archived-h"')
    assert "Headlines" not in main.split("<h1>Products</h1>", 1)[1] and "Headlines" in archived


def test_the_widget_and_the_api_refuse_an_archived_product_with_a_clear_message(owner_client, live):
    secret = api_key_create(team=owner_client.team, user=owner_client.user, name="Backend", scope="generate").secret
    product_archive(product=live)
    live.refresh_from_db()
    with pytest.raises(GenerationRefused) as refused:
        generation_start(
            product=live,
            version=1,
            channel=Generation.Channel.WIDGET,
            actor=Actor(visitor="203.0.113.9"),
            message="Sale",
        )
    assert refused.value.code == "archived"
    response = bearer(secret).post(
        f"/api/v1/products/{live.slug}/generate/", {"inputs": {"product": "Tea"}}, format="json"
    )
    assert response.status_code == 409
    assert "“Headlines” is archived: it answers no one." in response.json()["detail"]
    # The studio's own playground still writes with the draft, so the team can keep working on it.
    inputs = {field["name"]: (field.get("choices") or ["Green tea"])[0] for field in live.input_schema}
    started = generation_start(
        product=live,
        version="draft",
        channel=Generation.Channel.PLAYGROUND,
        actor=Actor(user=owner_client.user),
        inputs=inputs,
    )
    assert started.version is None


def test_an_archived_product_cannot_be_published_until_restored(owner_client, live):
    product_archive(product=live)
    response = owner_client.post(reverse("version_publish", args=[live.team.slug, live.slug, 1]), follow=True)
    html = response.content.decode()
    assert "“Headlines” is archived. Restore it first, then publish a version." in html
    assert "This product is archived, so no version can be published." in html and "Publish version" not in html
    response = owner_client.post(url("product_restore", live), follow=True)
    html = response.content.decode()
    assert "“Headlines” is back. Nothing is published" in html and "Publish version 2" in html
    owner_client.post(reverse("version_publish", args=[live.team.slug, live.slug, 1]))
    live.refresh_from_db()
    assert live.archived_at is None and live.live_version.number == 1


def test_the_delete_page_names_what_goes_and_deleting_keeps_the_datasets(owner_client, live, make_version):
    dataset_version = make_version()  # a dataset in the database: deleting a product leaves datasets alone
    html = owner_client.get(url("product_delete", live)).content.decode()
    for text in (
        "2 versions, including live version 1",
        "1 generation in its logs",
        "1 A/B split",
        "0 training runs",
        "Kept: the team's datasets",
    ):
        assert text in html, text
    response = owner_client.post(url("product_delete", live), follow=True)
    assert "“Headlines” is deleted." in response.content.decode()
    assert not Product.objects.filter(pk=live.pk).exists()
    assert not ProductVersion.objects.exists() and not Generation.objects.exists() and not Release.objects.exists()
    assert Dataset.objects.filter(pk=dataset_version.dataset_id).exists()
    assert not TrainingRun.objects.exists()


def test_editors_archive_but_only_admins_delete_and_viewers_change_nothing(client, live, make_member):
    team = live.team
    client.force_login(make_member(team, Role.VIEWER).user)
    for name in ("product_rename", "product_archive", "product_restore", "product_delete"):
        assert client.post(url(name, live), {"name": "Mine"}).status_code == 403, name
    assert client.get(url("product_settings", live)).status_code == 403
    client.force_login(make_member(team, Role.EDITOR).user)
    assert client.get(url("product_delete", live)).status_code == 403
    assert client.post(url("product_delete", live)).status_code == 403
    assert (
        "Only team admins and owners can delete a product."
        in client.get(url("product_settings", live)).content.decode()
    )
    live.refresh_from_db()
    assert (live.name, live.archived_at) == ("Headlines", None)


@pytest.mark.parametrize(
    ("method", "name"),
    [
        ("get", "product_settings"),
        ("post", "product_rename"),
        ("post", "product_archive"),
        ("post", "product_restore"),
        ("get", "product_delete"),
        ("post", "product_delete"),
    ],
)
def test_another_team_gets_404_on_the_settings_pages(client, live, make_team, method, name):
    other = make_team("Other")
    client.force_login(other.memberships.get().user)
    for team_slug in (live.team.slug, other.slug):
        response = getattr(client, method)(reverse(name, args=[team_slug, live.slug]), {"name": "Mine"})
        assert response.status_code == 404
    live.refresh_from_db()
    assert (live.name, live.archived_at) == ("Headlines", None)


def test_a_model_another_products_version_serves_blocks_the_delete_with_the_reason(owner_client, live):
    from inference.models import ModelArtifact

    team, owner = owner_client.team, owner_client.user
    run = TrainingRun.objects.create(team=team, product=live, status="succeeded")
    artifact = ModelArtifact.objects.create(
        team=team, run=run, base_model=run.base_model, path="training/x", sha256="0" * 64, size_bytes=1
    )
    other = product_create(team=team, user=owner, kind_id="copywriting", template_id="social-post", name="Posts")
    other.fine_tuned_artifact = artifact
    other.save()
    product_version_create(product=other, user=owner)  # Posts v1 serves the model Headlines trained
    version_page = owner_client.get(reverse("version_detail", args=[team.slug, other.slug, 1])).content.decode()
    assert f"Fine-tuned model</dt><dd>LoRA adapter from training run {run.pk}," in version_page
    html = owner_client.get(url("product_delete", live)).content.decode()
    assert "1 training run and the models they trained" in html
    response = owner_client.post(url("product_delete", live))
    assert response.status_code == 400
    assert "“Headlines” cannot be deleted: another product&#x27;s version serves a model it trained." in (
        response.content.decode()
    )
    assert Product.objects.filter(pk=live.pk).exists() and ModelArtifact.objects.filter(pk=artifact.pk).exists()
