"""A/B releases: the one start path follows the split, promote and stop move traffic, publishing asks."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from products.models import Generation, Release
from products.releases.assignment import CANDIDATE, CONTROL, arm_for
from products.releases.services import release_promote, release_start, release_stop
from products.services import (
    SPLIT_CHOICE_NEEDED,
    SPLIT_KEEP,
    SPLIT_STOP,
    product_version_create,
    product_version_publish,
)
from tests.products.releases.conftest import ask

pytestmark = pytest.mark.django_db

VISITORS = [f"visitor{n:04d}" for n in range(40)]


def _version_numbers(product) -> dict[str, int]:
    return {v: ask(product, v).version.number for v in VISITORS}


def test_generation_start_sends_each_visitor_to_their_arm_and_keeps_them_there(product, owner):
    v2 = product.versions.get(number=2)
    release = release_start(product=product, candidate=v2, share_percent=50, user=owner)
    first = [ask(product, v) for v in VISITORS]
    for visitor, generation in zip(VISITORS, first, strict=True):
        arm = arm_for(product_id=product.pk, release_id=release.pk, stable_id=visitor, share_percent=50)
        assert (generation.arm, generation.version.number) == (arm, 2 if arm == CANDIDATE else 1)
        assert generation.release == release and generation.visitor == visitor
    assert {g.arm for g in first} == {CONTROL, CANDIDATE}
    assert _version_numbers(product) == {v: g.version.number for v, g in zip(VISITORS, first, strict=True)}


def test_promote_puts_everyone_on_the_candidate_and_stop_puts_everyone_back(product, owner):
    v1, v2 = product.versions.get(number=1), product.versions.get(number=2)
    release = release_start(product=product, candidate=v2, share_percent=20, user=owner)
    assert set(_version_numbers(product).values()) == {1, 2}
    release = release_promote(release=release, user=owner)
    assert release.outcome == Release.Outcome.PROMOTED and release.stopped_at is not None
    assert set(_version_numbers(product).values()) == {2}
    assert ask(product, VISITORS[0]).arm == ""

    second = release_start(product=product, candidate=v1, share_percent=50, user=owner)
    assert set(_version_numbers(product).values()) == {1, 2}
    second = release_stop(release=second, user=owner)
    assert second.outcome == Release.Outcome.STOPPED
    assert set(_version_numbers(product).values()) == {2}
    with pytest.raises(ValidationError, match="This split has already ended."):
        release_promote(release=second, user=owner)


def test_publishing_during_a_split_needs_a_choice_and_each_choice_does_what_it_says(product, owner):
    v2 = product.versions.get(number=2)
    v3 = product_version_create(product=product, user=owner, note="three")
    release = release_start(product=product, candidate=v2, share_percent=50, user=owner)
    with pytest.raises(ValidationError) as refused:
        product_version_publish(product=product, version=v3, user=owner)
    assert refused.value.messages == [SPLIT_CHOICE_NEEDED]
    product.refresh_from_db()
    assert product.live_version.number == 1

    product_version_publish(product=product, version=v3, user=owner, split=SPLIT_KEEP)
    release.refresh_from_db()
    assert release.running
    assert set(_version_numbers(product).values()) == {2, 3}  # the main arm now answers with version 3

    product_version_publish(product=product, version=product.versions.get(number=1), user=owner, split=SPLIT_STOP)
    release.refresh_from_db()
    assert release.outcome == Release.Outcome.STOPPED
    assert set(_version_numbers(product).values()) == {1}


def test_the_versions_page_asks_what_to_do_with_the_split_and_refuses_a_publish_without_an_answer(
        client, product, owner):
    client.force_login(owner)
    release_start(product=product, candidate=product.versions.get(number=2), share_percent=20, user=owner)
    page = client.get(reverse("versions", args=[product.team.slug, product.slug])).content.decode()
    assert "What should happen to it?" in page and "Keep the split: version 2" not in page
    assert "End the split: version 2 is live for everyone (promote)" in page
    response = client.post(reverse("version_publish", args=[product.team.slug, product.slug, 2]), follow=True)
    assert SPLIT_CHOICE_NEEDED in response.content.decode()
    product.refresh_from_db()
    assert product.live_version.number == 1
    client.post(reverse("version_publish", args=[product.team.slug, product.slug, 2]), {"split": "stop"})
    product.refresh_from_db()
    assert product.live_version.number == 2
    assert Release.objects.get().outcome == Release.Outcome.PROMOTED


def test_a_split_refuses_the_live_version_a_second_split_and_an_unpublished_product(product, owner, shop):
    with pytest.raises(ValidationError, match="Version 1 is already live for everyone"):
        release_start(product=product, candidate=product.versions.get(number=1), share_percent=20, user=owner)
    release_start(product=product, candidate=product.versions.get(number=2), share_percent=20, user=owner)
    with pytest.raises(ValidationError, match="A split is already running"):
        release_start(product=product, candidate=product.versions.get(number=2), share_percent=30, user=owner)
    with pytest.raises(ValidationError):
        release_start(product=product, candidate=product.versions.get(number=2), share_percent=100, user=owner)
    assert Release.objects.count() == 1


def test_widget_generations_without_a_visitor_id_stay_on_the_live_version(product, owner):
    release_start(product=product, candidate=product.versions.get(number=2), share_percent=99, user=owner)
    generation = ask(product, "")
    assert (generation.version.number, generation.arm, generation.visitor) == (1, CONTROL, "")
    assert Generation.objects.filter(arm=CONTROL).count() == 1
