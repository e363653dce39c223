"""The Logs tab: filters and search find the right answers, one answer in full, corrections by role, isolation."""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from products.logs.selectors import LogFilters, generation_log_filter, generation_log_page
from products.models import FeedbackEvent, Generation
from products.services import generation_feedback_set, product_create, product_version_create
from studio.roles import Role
from tests.products.logs_helpers import log

pytestmark = pytest.mark.django_db


@pytest.fixture
def headlines(make_team):
    team = make_team("Acme")
    owner = team.memberships.get().user
    return product_create(team=team, user=owner, kind_id="copywriting", template_id="ad-headlines", name="Headlines")


@pytest.fixture
def seeded(headlines):
    """Six answers across versions, channels, feedback and days; returns them by name."""
    owner = headlines.team.memberships.get().user
    v1 = product_version_create(product=headlines, user=owner, note="first")
    rows = {
        "old_widget": log(headlines, "Waterproof boots for wet trails", channel="widget", version=v1, days_ago=10),
        "api_good": log(headlines, "Light shoes that run far", channel="api", version=v1, feedback=1, days_ago=3),
        "api_bad": log(headlines, "Shoes shoes shoes", channel="api", version=v1, feedback=-1, days_ago=2),
        "draft": log(headlines, "Stay dry on every trail", inputs={"product": "Waterproof jacket"}),
        "corrected": log(headlines, "Boots", correction="Boots that keep your feet dry", days_ago=1),
        "failed": log(headlines, "", status="failed", error="The model is not answering.", days_ago=1),
    }
    return rows


def _ids(product, **filters) -> set[int]:
    return set(generation_log_filter(product=product, filters=LogFilters(**filters)).values_list("pk", flat=True))


def test_filters_keep_exactly_the_matching_answers(headlines, seeded):
    s = {name: g.pk for name, g in seeded.items()}
    assert _ids(headlines, channel="api") == {s["api_good"], s["api_bad"]}
    assert _ids(headlines, channel="widget") == {s["old_widget"]}
    assert _ids(headlines, version=1) == {s["old_widget"], s["api_good"], s["api_bad"]}
    assert _ids(headlines, version="draft") == {s["draft"], s["corrected"], s["failed"]}
    assert _ids(headlines, version=7) == set()
    assert _ids(headlines, feedback="up") == {s["api_good"]}
    assert _ids(headlines, feedback="down") == {s["api_bad"]}
    assert _ids(headlines, feedback="corrected") == {s["corrected"]}
    assert _ids(headlines, feedback="none") == {s["old_widget"], s["draft"], s["failed"]}
    today = seeded["draft"].created_at.date()
    assert _ids(headlines, date_from=seeded["api_bad"].created_at.date(), date_to=today) == (
        set(s.values()) - {s["old_widget"], s["api_good"]})
    assert _ids(headlines, channel="api", feedback="up", version=1) == {s["api_good"]}


def test_search_finds_words_in_the_answer_or_the_inputs(headlines, seeded):
    s = {name: g.pk for name, g in seeded.items()}
    assert _ids(headlines, q="waterproof") == {s["old_widget"], s["draft"]}  # the answer, and the draft's input
    assert _ids(headlines, q="trail") | _ids(headlines, q="trails") == {s["old_widget"], s["draft"]}
    assert _ids(headlines, q="shoes", channel="api") == {s["api_good"], s["api_bad"]}
    assert _ids(headlines, q="nothing-like-this") == set()


def test_pages_are_newest_first_and_the_next_page_starts_after_the_last_row(headlines):
    made = [log(headlines, f"Answer {n}") for n in range(7)]
    first = generation_log_page(product=headlines, filters=LogFilters(), limit=3)
    second = generation_log_page(product=headlines, filters=LogFilters(), before=first.next_before, limit=3)
    third = generation_log_page(product=headlines, filters=LogFilters(), before=second.next_before, limit=3)
    shown = [g.output for page in (first, second, third) for g in page.rows]
    assert shown == [g.output for g in reversed(made)]
    assert third.next_before is None


def test_logs_page_lists_answers_with_filters_and_the_htmx_table_alone(client, headlines, seeded):
    owner = headlines.team.memberships.get().user
    client.force_login(owner)
    url = reverse("logs", args=[headlines.team.slug, headlines.slug])
    page = client.get(url, {"channel": "api"})
    html = page.content.decode()
    assert page.status_code == 200
    assert "Light shoes that run far" in html and "Shoes shoes shoes" in html
    assert "Waterproof boots" not in html
    assert f'href="{url}"' in html  # the tab, and Clear filters
    assert "format=csv&amp;channel=api" in html  # the export keeps the filter
    fragment = client.get(url, {"feedback": "corrected"}, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in fragment and 'id="log-table"' in fragment
    assert "Boots that keep your feet dry" in fragment and "Light shoes" not in fragment


def test_bad_filter_values_are_named_not_a_server_error(client, headlines, seeded):
    client.force_login(headlines.team.memberships.get().user)
    url = reverse("logs", args=[headlines.team.slug, headlines.slug])
    response = client.get(url, {"date_from": "31/01/2026", "channel": "fax", "before": "x"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "Write the first day as YYYY-MM-DD" in html
    assert "Select a valid choice. fax is not one of the available choices." in html
    assert "Light shoes that run far" in html  # the valid part still shows the answers
    edges = client.get(url, {"date_from": "0001-01-01", "date_to": "9999-12-31", "before": str(2**70)})
    assert edges.status_code == 200 and "Light shoes that run far" in edges.content.decode()  # an odd page: the first
    assert client.get(url, {"q": "((\"-"}).status_code == 200


def test_detail_shows_one_answer_in_full_with_its_feedback_history(client, headlines, seeded):
    owner = headlines.team.memberships.get().user
    long_answer = "A headline. " * 40
    generation = log(headlines, long_answer.strip(), channel="api")
    generation_feedback_set(generation=generation, value=-1, user=owner)
    client.force_login(owner)
    html = client.get(reverse("log_detail", args=[headlines.team.slug, headlines.slug, generation.pk])).content.decode()
    assert long_answer.strip() in html  # in full, not cut short as in the list
    assert "12 read, 7 written" in html and "80 ms" in html and "400 ms" in html and "Finished" in html
    # The thumb is an inline SVG (no emoji font needed), with the word beside it.
    assert re.search(r'rated\s*<svg class="icon icon-thumb-down"[^>]*aria-hidden="true".*?</svg>\s*bad', html)
    assert owner.email in html


def test_editor_corrects_an_answer_and_the_row_shows_it(client, headlines, seeded, make_member):
    editor = make_member(headlines.team, Role.EDITOR).user
    client.force_login(editor)
    generation = seeded["api_bad"]
    url = reverse("log_correct", args=[headlines.team.slug, headlines.slug, generation.pk])
    response = client.post(url, {"text": "  Light trail shoes for long runs\r\n"})
    assert response.status_code == 302
    generation.refresh_from_db()
    assert generation.correction == "Light trail shoes for long runs"
    event = FeedbackEvent.objects.get(kind="correction")
    assert (event.generation, event.user, event.value, event.channel) == (
        generation, editor, {"text": "Light trail shoes for long runs"}, "api")
    listing = client.get(reverse("logs", args=[headlines.team.slug, headlines.slug]), {"feedback": "corrected"})
    assert "Light trail shoes for long runs" in listing.content.decode()


def test_an_empty_correction_is_refused_with_the_reason(client, headlines, seeded):
    client.force_login(headlines.team.memberships.get().user)
    generation = seeded["api_bad"]
    url = reverse("log_correct", args=[headlines.team.slug, headlines.slug, generation.pk])
    response = client.post(url, {"text": "   "}, HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    assert "Write what the answer should have said." in response.content.decode()
    generation.refresh_from_db()
    assert generation.correction == "" and not FeedbackEvent.objects.filter(kind="correction").exists()


def test_viewer_cannot_correct(client, headlines, seeded, make_member):
    client.force_login(make_member(headlines.team, Role.VIEWER).user)
    generation = seeded["api_bad"]
    detail = client.get(reverse("log_detail", args=[headlines.team.slug, headlines.slug, generation.pk]))
    assert "Save correction" not in detail.content.decode()
    assert "Editors and above can correct answers." in detail.content.decode()
    response = client.post(reverse("log_correct", args=[headlines.team.slug, headlines.slug, generation.pk]),
                           {"text": "Better"})
    assert response.status_code == 403
    generation.refresh_from_db()
    assert generation.correction == ""


def test_classification_is_corrected_by_picking_one_of_its_labels(client, make_team):
    team = make_team("Acme")
    owner = team.memberships.get().user
    router = product_create(team=team, user=owner, kind_id="classification", template_id="support-routing")
    result = {"label": "billing", "confidence": 0.55, "probabilities": {"billing": 0.55, "shipping": 0.45}}
    generation = log(router, "billing", inputs={"text": "Where is my parcel?"}, result=result)
    client.force_login(owner)
    url = reverse("log_correct", args=[team.slug, router.slug, generation.pk])
    refused = client.post(url, {"label": "refunds"})
    assert refused.status_code == 400 and "Pick one of the labels: billing, shipping." in refused.content.decode()
    assert client.post(url, {"label": "shipping"}).status_code == 302
    generation.refresh_from_db()
    assert generation.correction == "shipping"
    assert FeedbackEvent.objects.get(kind="correction").value == {"label": "shipping"}


def test_another_team_gets_404_on_logs_detail_export_correct_and_add(client, headlines, seeded, make_team):
    outsider = make_team("Other").memberships.get().user
    client.force_login(outsider)
    team, slug, gid = headlines.team.slug, headlines.slug, seeded["api_bad"].pk
    assert client.get(reverse("logs", args=[team, slug])).status_code == 404
    assert client.get(reverse("log_detail", args=[team, slug, gid])).status_code == 404
    assert client.get(reverse("logs_export", args=[team, slug]), {"format": "csv"}).status_code == 404
    assert client.post(reverse("log_correct", args=[team, slug, gid]), {"text": "x y z"}).status_code == 404
    assert client.post(reverse("logs_add_to_dataset", args=[team, slug]),
                       {"which": "selected", "ids": [gid], "name": "Stolen"}).status_code == 404
    # Their own product of the same slug does not reach team A's answers either.
    own = product_create(team=outsider.teams.get(), user=outsider, kind_id="copywriting",
                         template_id="ad-headlines", name="Headlines")
    assert client.get(reverse("log_detail", args=[own.team.slug, own.slug, gid])).status_code == 404
    assert Generation.objects.get(pk=gid).correction == ""


def test_ranked_items_have_no_correction_and_cannot_become_training_rows(client, make_team):
    from products.logs.selectors import generation_log_selection
    from products.logs.services import generation_dataset_export

    team = make_team("Acme")
    owner = team.memberships.get().user
    picks = product_create(team=team, user=owner, kind_id="fixed-rank", template_id="staff-picks")
    generation = log(picks, "", inputs={}, result={"items": [{"id": "sku-1", "title": "Mug", "reason": "popular"}]},
                     feedback=1)
    client.force_login(owner)
    detail = client.get(reverse("log_detail", args=[team.slug, picks.slug, generation.pk])).content.decode()
    assert "Mug — popular" in detail and "Save correction" not in detail
    assert "clicks and purchases are their feedback" in detail
    refused = client.post(reverse("log_correct", args=[team.slug, picks.slug, generation.pk]), {"text": "Other"})
    assert refused.status_code == 400 and "cannot be corrected" in refused.content.decode()
    with pytest.raises(ValidationError, match="logs cannot become training rows"):
        generation_dataset_export(product=picks, generations=generation_log_selection(
            product=picks, ids=[generation.pk]), user=owner, name="Picks")


def test_viewers_see_the_logs_without_checkboxes_or_add_to_dataset(client, headlines, seeded, make_member):
    client.force_login(make_member(headlines.team, Role.VIEWER).user)
    html = client.get(reverse("logs", args=[headlines.team.slug, headlines.slug])).content.decode()
    assert "Light shoes that run far" in html
    assert 'name="ids"' not in html and "Add to the dataset" not in html
