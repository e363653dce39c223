"""The Releases and Usage tabs, the dashboard's team usage, team isolation, and the API's stable ids."""

from __future__ import annotations

import pytest
from django.urls import reverse

from products.models import Generation, Release
from products.releases.assignment import arm_for
from products.releases.services import release_start
from products.services import generation_finish
from tests.api.conftest import bearer
from tests.products.releases.conftest import ask

pytestmark = pytest.mark.django_db


def _urls(product, release) -> tuple[list[str], list[str]]:
    team, slug = product.team.slug, product.slug
    pages = [reverse("releases", args=[team, slug]), reverse("release_detail", args=[team, slug, release.pk]),
             reverse("usage", args=[team, slug])]
    actions = [reverse("release_new", args=[team, slug]), reverse("release_promote", args=[team, slug, release.pk]),
               reverse("release_stop", args=[team, slug, release.pk])]
    return pages, actions


def test_another_team_gets_404_on_every_release_page_and_action_and_changes_nothing(
        client, product, owner, make_team):
    release = release_start(product=product, candidate=product.versions.get(number=2), share_percent=20, user=owner)
    outsider = make_team("Rivals").memberships.get().user
    client.force_login(outsider)
    pages, actions = _urls(product, release)
    for url in pages:
        assert client.get(url).status_code == 404, url
    for url in actions:
        assert client.post(url, {"candidate": release.candidate_id, "share_percent": 50}).status_code == 404, url
    release.refresh_from_db()
    product.refresh_from_db()
    assert release.running and product.live_version.number == 1 and Release.objects.count() == 1


def test_an_editor_starts_a_split_from_the_page_and_promotes_it(client, product, owner):
    client.force_login(owner)
    team, slug = product.team.slug, product.slug
    page = client.get(reverse("releases", args=[team, slug])).content.decode()
    assert "Try a version on part of your traffic" in page and "Version 2 · two" in page
    response = client.post(reverse("release_new", args=[team, slug]),
                           {"candidate": product.versions.get(number=2).pk, "share_percent": 20}, follow=True)
    assert "Version 2 now answers 20 % of visitors." in response.content.decode()
    release = Release.objects.get()
    response = client.post(reverse("release_promote", args=[team, slug, release.pk]), follow=True)
    assert "Version 2 is live for everyone." in response.content.decode()
    product.refresh_from_db()
    assert product.live_version.number == 2
    bad = client.post(reverse("release_new", args=[team, slug]), {"candidate": "x", "share_percent": 150},
                      follow=True).content.decode()
    assert "Ensure this value is less than or equal to 99." in bad and Release.objects.count() == 1


def _finished(product, visitor: str, *, tokens: int) -> Generation:
    generation = ask(product, visitor)
    generation_finish(generation_id=generation.pk, output="Sale!", finish_reason="eos", tokens_in=tokens,
                      tokens_out=tokens, time_to_first_token_s=0.2, duration_s=0.5)
    return generation


def test_the_usage_tab_and_the_dashboard_plot_generations_per_day_per_product_and_version(client, product, owner):
    for n in range(3):
        _finished(product, f"visitor-{n}", tokens=10)
    client.force_login(owner)
    team, slug = product.team.slug, product.slug
    page = client.get(reverse("usage", args=[team, slug])).content.decode()
    assert page.count('data-testid="day-chart"') == 5
    assert "3 in 30 days" in page and "60 tokens in all" in page and "<rect class=\"bar\"" in page
    assert "Time to first token, p95" in page and "<polyline class=\"line\"" in page
    other_version = client.get(reverse("usage", args=[team, slug]), {"version": 2, "days": 7}).content.decode()
    assert "0 in 7 days" in other_version
    fragment = client.get(reverse("usage", args=[team, slug]), {"days": 7}, HTTP_HX_REQUEST="true").content.decode()
    assert fragment.lstrip().startswith('<div class="charts" id="usage-charts"') and "3 in 7 days" in fragment
    dashboard = client.get(reverse("dashboard", args=[team])).content.decode()
    assert "Usage, last 30 days" in dashboard and "3 in 30 days" in dashboard
    assert f'<a href="{reverse("usage", args=[team, slug])}">Posts</a></td><td>3</td><td>60</td>' in dashboard


def test_the_dashboard_of_another_team_shows_none_of_this_teams_usage(client, product, make_team):
    _finished(product, "visitor-1", tokens=10)
    rival = make_team("Rivals")
    client.force_login(rival.memberships.get().user)
    page = client.get(reverse("dashboard", args=[rival.slug])).content.decode()
    assert "0 in 30 days" in page and "Posts" not in page


@pytest.mark.django_db(transaction=True)  # the API answers through database_sync_to_async threads
def test_the_api_user_field_or_visitor_header_keeps_one_end_user_on_one_arm(settings, product, owner, make_key):
    settings.INFERENCE_START_TIMEOUT_S = 0.05  # no worker here: only the logged Generation matters
    release = release_start(product=product, candidate=product.versions.get(number=2), share_percent=50, user=owner)
    api = bearer(make_key(product.team))
    url = reverse("api_generate", args=[product.slug])
    users = [f"end-user-{n}" for n in range(12)]
    for user in users:
        for _ in range(2):
            api.post(url, {"inputs": {"topic": "Summer sale"}, "user": user}, format="json")
    api.post(url, {"inputs": {"topic": "Summer sale"}}, format="json", HTTP_X_STUDIO_VISITOR="header-visitor")
    api.post(reverse("openai_chat_completions"), {"model": product.slug, "user": "chat-user",
                                                  "messages": [{"role": "user", "content": "Summer sale"}]},
             format="json")
    api.post(url, {"inputs": {"topic": "Summer sale"}}, format="json")
    logged = list(Generation.objects.order_by("pk"))
    for generation in logged:
        expected = arm_for(product_id=product.pk, release_id=release.pk, stable_id=generation.visitor,
                           share_percent=50)
        assert generation.arm == expected and generation.channel == "api"
    by_user = {}
    for generation in logged[:24]:
        by_user.setdefault(generation.visitor, set()).add(generation.version.number)
    assert sorted(by_user) == sorted(users) and all(len(numbers) == 1 for numbers in by_user.values())
    assert {n for numbers in by_user.values() for n in numbers} == {1, 2}
    key_pk = product.team.api_keys.get().pk
    assert [g.visitor for g in logged[24:]] == ["header-visitor", "chat-user", f"key:{key_pk}"]


def test_a_viewer_reads_the_split_but_cannot_start_promote_or_stop_it(client, product, owner, make_member):
    from studio.roles import Role

    release = release_start(product=product, candidate=product.versions.get(number=2), share_percent=20, user=owner)
    viewer = make_member(product.team, Role.VIEWER).user
    client.force_login(viewer)
    pages, actions = _urls(product, release)
    page = client.get(pages[0]).content.decode()
    assert "A/B split: version 2 for 20 % of visitors" in page and "Promote version 2" not in page
    for url in actions:
        assert client.post(url).status_code == 403, url
    release.refresh_from_db()
    assert release.running


def test_stop_from_the_page_sends_everyone_back(client, product, owner):
    release = release_start(product=product, candidate=product.versions.get(number=2), share_percent=20, user=owner)
    client.force_login(owner)
    _, actions = _urls(product, release)
    response = client.post(actions[2], follow=True).content.decode()
    assert "Split stopped: everyone gets the live version again." in response
    assert "Earlier splits" in response and "Stopped: everyone went back to the live version" in response
    assert {ask(product, f"v{n}").version.number for n in range(20)} == {1}
