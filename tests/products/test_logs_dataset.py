"""Feedback → dataset: good and corrected answers become training rows of the kind's shape, exactly once."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from products.datasets.selectors import dataset_version_iter_rows
from products.logs.selectors import LogFilters, generation_log_good_and_corrected, generation_log_selection
from products.logs.services import generation_dataset_export
from products.models import Dataset, DatasetUpload, DatasetVersion, Generation
from products.services import product_create
from studio.roles import Role
from tests.products.logs_helpers import log

pytestmark = pytest.mark.django_db

FAQ = {"question": "How long does delivery take?"}


@pytest.fixture
def faq_bot(make_team):
    team = make_team("Acme")
    owner = team.memberships.get().user
    return product_create(team=team, user=owner, kind_id="qa", template_id="store-faq", name="FAQ bot")


def _rows(version: DatasetVersion) -> list[dict[str, str]]:
    return list(dataset_version_iter_rows(version))


def test_good_and_corrected_answers_become_pairs_once_with_skips_counted(faq_bot):
    owner = faq_bot.team.memberships.get().user
    good = log(faq_bot, "Two to three working days.", inputs=FAQ, feedback=1)
    log(faq_bot, "Two to  three working DAYS.", inputs=FAQ, feedback=1)  # the same, in other case and spacing
    corrected = log(faq_bot, "I don't know.", inputs={"question": "Do you ship to Norway?"}, feedback=-1,
                    correction="Yes, in five working days.")
    bad = log(faq_bot, "Never.", inputs={"question": "Can I return shoes?"}, feedback=-1)
    empty = log(faq_bot, "", inputs={"question": "Hello?"}, feedback=1, status="failed", error="Model down")
    chosen = generation_log_selection(product=faq_bot, ids=[good.pk, good.pk, corrected.pk, bad.pk, empty.pk,
                                                            *Generation.objects.values_list("pk", flat=True)])
    result = generation_dataset_export(product=faq_bot, generations=chosen, user=owner, name="FAQ answers")
    version = result.version
    assert (version.kind, version.shape, version.column_mapping) == (
        "qa", "pairs", {"question": ["question"], "answer": ["answer"]})
    assert sorted(_rows(version), key=lambda row: row["question"]) == [
        {"question": "Do you ship to Norway?", "answer": "Yes, in five working days."},  # the correction
        {"question": "How long does delivery take?", "answer": "Two to three working days."},
    ]
    assert (result.added, result.duplicates, result.near_empty, result.rated_bad) == (2, 1, 1, 1)
    assert result.summary() == ("Added 2 logged answers as FAQ answers v1. Skipped 1 duplicate, "
                                "1 empty or near-empty, 1 rated 👎 and not corrected.")
    assert version.row_count == 2 and version.report["row_count"] == 2 and version.report["verdict"]  # validated
    assert not DatasetUpload.objects.exists()  # the upload became the version


def test_adding_again_to_the_same_dataset_keeps_its_rows_and_adds_each_answer_once(faq_bot):
    owner = faq_bot.team.memberships.get().user
    first = log(faq_bot, "Two to three working days.", inputs=FAQ, feedback=1)
    v1 = generation_dataset_export(product=faq_bot, generations=generation_log_selection(product=faq_bot,
                                   ids=[first.pk]), user=owner, name="FAQ answers").version
    second = log(faq_bot, "Within 30 days.", inputs={"question": "Can I return it?"}, feedback=1)
    everything = generation_log_good_and_corrected(product=faq_bot, filters=LogFilters())
    result = generation_dataset_export(product=faq_bot, generations=everything, user=owner, dataset=v1.dataset)
    assert result.version.number == 2 and (result.kept, result.added, result.duplicates) == (1, 1, 1)
    assert [row["answer"] for row in _rows(result.version)] == ["Two to three working days.", "Within 30 days."]
    assert _rows(v1) == [{"question": FAQ["question"], "answer": "Two to three working days."}]  # v1 unchanged
    assert second.pk


def test_nothing_to_add_is_refused_and_leaves_no_dataset(faq_bot):
    owner = faq_bot.team.memberships.get().user
    bad = log(faq_bot, "Never.", inputs=FAQ, feedback=-1)
    with pytest.raises(ValidationError) as refused:
        generation_dataset_export(product=faq_bot, generations=generation_log_selection(product=faq_bot,
                                  ids=[bad.pk]), user=owner, name="Nothing")
    assert refused.value.messages == ["Nothing to add: every chosen answer was skipped (1 rated 👎 and not corrected)."]
    assert not Dataset.objects.exists() and not DatasetUpload.objects.exists()


def test_copywriting_rows_have_the_product_inputs_and_the_corrected_copy(make_team):
    team = make_team("Acme")
    owner = team.memberships.get().user
    headlines = product_create(team=team, user=owner, kind_id="copywriting", template_id="ad-headlines")
    inputs = {"product": "Trail shoes", "benefit": "=dry feet", "tone": "bold"}
    generation = log(headlines, "Shoes!", inputs=inputs, correction="Dry feet on every trail")
    result = generation_dataset_export(product=headlines, generations=generation_log_selection(
        product=headlines, ids=[generation.pk]), user=owner, name="Headlines")
    assert result.version.column_mapping == {"inputs": ["product", "benefit", "tone"], "output": ["output"]}
    assert _rows(result.version) == [{**inputs, "output": "Dry feet on every trail"}]  # data, not neutralised


def test_classification_learns_corrected_labels_and_skips_unsure_answers(make_team):
    team = make_team("Acme")
    owner = team.memberships.get().user
    router = product_create(team=team, user=owner, kind_id="classification", template_id="support-routing")
    sure = log(router, "billing", inputs={"text": "Charged twice"}, feedback=1,
               result={"label": "billing", "probabilities": {"billing": 0.9, "shipping": 0.1}})
    unsure = log(router, "unsure", inputs={"text": "Hmm"}, feedback=1,
                 result={"label": "unsure", "unsure": True, "top_label": "billing"})
    fixed = log(router, "billing", inputs={"text": "Where is my parcel?"}, correction="shipping",
                result={"label": "billing"})
    result = generation_dataset_export(product=router, generations=generation_log_selection(
        product=router, ids=[sure.pk, unsure.pk, fixed.pk]), user=owner, name="Tickets")
    assert (result.version.shape, result.near_empty) == ("labelled", 1)
    assert sorted(_rows(result.version), key=lambda row: row["text"]) == [
        {"text": "Charged twice", "label": "billing"}, {"text": "Where is my parcel?", "label": "shipping"}]


def test_page_adds_all_good_and_corrected_answers_matching_the_filter(client, faq_bot, make_member):
    editor = make_member(faq_bot.team, Role.EDITOR).user
    log(faq_bot, "Two to three working days.", inputs=FAQ, feedback=1, channel="widget")
    log(faq_bot, "Within 30 days.", inputs={"question": "Returns?"}, feedback=1, channel="api")
    log(faq_bot, "Maybe.", inputs={"question": "Gift cards?"}, channel="widget")  # not rated: not taken
    client.force_login(editor)
    response = client.post(reverse("logs_add_to_dataset", args=[faq_bot.team.slug, faq_bot.slug]),
                           {"which": "good_and_corrected", "channel": "widget", "name": "Widget answers"},
                           follow=True)
    version = DatasetVersion.objects.get()
    assert _rows(version) == [{"question": FAQ["question"], "answer": "Two to three working days."}]
    assert response.redirect_chain[-1][0] == reverse("dataset_version", args=[faq_bot.team.slug,
                                                                              version.dataset_id, 1])
    assert "Added 1 logged answer as Widget answers v1. Nothing was skipped." in response.content.decode()


def test_page_names_what_is_missing_and_viewers_cannot_add(client, faq_bot, make_member):
    good = log(faq_bot, "Two to three working days.", inputs=FAQ, feedback=1)
    url = reverse("logs_add_to_dataset", args=[faq_bot.team.slug, faq_bot.slug])
    client.force_login(faq_bot.team.memberships.get().user)
    response = client.post(url, {"which": "selected", "name": "X"}, follow=True)
    assert "Tick the answers to add" in response.content.decode()
    client.force_login(make_member(faq_bot.team, Role.VIEWER).user)
    assert client.post(url, {"which": "selected", "ids": [good.pk], "name": "X"}).status_code == 403
    assert not DatasetVersion.objects.exists()
