"""Log retention: a team keeps its logs N days; purge_logs deletes only that team's older rows; forget a visitor."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.urls import reverse

from products.models import FeedbackEvent, Generation
from products.services import generation_feedback_set, product_create
from studio.roles import Role
from tests.products.logs_helpers import log

pytestmark = pytest.mark.django_db


def _product(team):
    owner = team.memberships.get().user
    return product_create(team=team, user=owner, kind_id="copywriting", template_id="ad-headlines")


def test_purge_logs_deletes_only_older_rows_of_the_team_that_keeps_them_90_days(make_team, capsys):
    keeper, other = make_team("Keeper"), make_team("Other")
    keeper.log_retention_days = 90
    keeper.save()
    mine, theirs = _product(keeper), _product(other)
    old = log(mine, "Old", days_ago=91)
    generation_feedback_set(generation=old, value=1)
    recent = log(mine, "Recent", days_ago=89)
    generation_feedback_set(generation=recent, value=1)
    FeedbackEvent.objects.filter(generation=recent).update(created_at=old.created_at)  # an old event of a kept row
    other_old = log(theirs, "Other's old", days_ago=400)  # that team keeps everything
    call_command("purge_logs")
    assert set(Generation.objects.values_list("pk", flat=True)) == {recent.pk, other_old.pk}
    assert not FeedbackEvent.objects.filter(team=keeper).exists()
    assert "Purged 1 generations and 1 feedback events of 1 teams" in capsys.readouterr().out


def test_admin_sets_retention_on_team_settings_and_editors_cannot(client, make_team, make_member):
    team = make_team("Acme")
    client.force_login(team.memberships.get().user)
    url = reverse("team_settings", args=[team.slug])
    assert "kept until you delete them" in client.get(url).content.decode()
    assert client.post(url, {"log_retention_days": "0"}).status_code == 400
    response = client.post(url, {"log_retention_days": "90"}, follow=True)
    assert "Logs are kept 90 days." in response.content.decode()
    team.refresh_from_db()
    assert team.log_retention_days == 90
    client.post(url, {"log_retention_days": ""})
    team.refresh_from_db()
    assert team.log_retention_days is None
    client.force_login(make_member(team, Role.EDITOR).user)
    assert client.post(url, {"log_retention_days": "1"}).status_code == 403
    team.refresh_from_db()
    assert team.log_retention_days is None


def test_deleting_a_visitor_removes_their_generations_and_feedback_in_this_team_only(client, make_team):
    team, other = make_team("Acme"), make_team("Other")
    mine, theirs = _product(team), _product(other)
    for product in (mine, theirs):
        generation = log(product, "Hi", channel="widget")
        Generation.objects.filter(pk=generation.pk).update(visitor="v-123")
        generation.refresh_from_db()
        generation_feedback_set(generation=generation, value=1)  # the widget's 👍 carries the visitor id
    FeedbackEvent.objects.create(team=team, product=mine, kind="click", item="sku-1", channel="widget",
                                 visitor="v-999")
    client.force_login(team.memberships.get().user)
    response = client.post(reverse("team_visitor_delete", args=[team.slug]), {"visitor": " v-123 "}, follow=True)
    assert "Deleted 2 records of visitor v-123." in response.content.decode()
    assert list(Generation.objects.filter(visitor="v-123").values_list("team", flat=True)) == [other.pk]
    assert list(FeedbackEvent.objects.filter(visitor="v-123").values_list("team", flat=True)) == [other.pk]
    assert FeedbackEvent.objects.filter(visitor="v-999").exists()
    assert client.post(reverse("team_visitor_delete", args=[other.slug]), {"visitor": "v-123"}).status_code == 404
