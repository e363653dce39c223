"""The Evaluation tab of a Q&A assistant: start an evaluation on test questions, follow it, read the report,
use its threshold; the messages for test sets that cannot be used; other teams get 404 everywhere."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from inference.knowledge.evaluation import evaluation_summary
from inference.knowledge.search import index_cache
from inference.knowledge.worker import EvaluationWorker
from inference.models import KnowledgeEvaluation, KnowledgeEvaluationResult, KnowledgeIndex
from products.datasets.mapping import mapping_guess, purpose_guess
from products.datasets.requirements import shape_get, shapes_for
from products.datasets.services import dataset_upload_create, dataset_version_create, dataset_version_delete
from products.knowledge.evaluation import knowledge_evaluation_create, passage_matches
from products.services import product_create, product_knowledge_update, product_version_create
from studio.roles import Role
from tests.inference.knowledge import built_index, store_faq_tests_version
from tests.knowledge import faq_version, index_building, index_ready
from tests.products.conftest import uploaded

pytestmark = pytest.mark.django_db


@pytest.fixture
def faq(owner_client):
    return faq_version(owner_client.team, owner_client.user)


@pytest.fixture
def assistant(owner_client, faq):
    return product_create(team=owner_client.team, user=owner_client.user, kind_id="qa", template_id="store-faq",
                          name="Shop helper", knowledge_version=faq)


@pytest.fixture
def ready(assistant, faq):
    """The assistant's index marked built (scripted chunks: these tests never search it)."""
    return index_ready(KnowledgeIndex.objects.get(dataset_version=faq), [("Shipping", "Shipping is free.")])


def _url(client, product, name="evaluation", *args):
    return reverse(name, args=[client.team.slug, product.slug, *args])


def _tests(client, rows, **kwargs):
    return store_faq_tests_version(client.team, client.user, rows=rows, **kwargs)


@pytest.mark.django_db(transaction=True)
def test_the_evaluation_tab_runs_an_evaluation_and_its_report_reads_recall_and_uses_the_threshold(
    owner_client, assistant, faq
):
    index_cache().clear()
    built_index(faq)
    tests = store_faq_tests_version(owner_client.team, owner_client.user)
    page = owner_client.get(_url(owner_client, assistant)).content.decode()
    assert "Evaluate on test questions" in page and "FAQ test questions v1" in page and "No evaluation yet." in page

    response = owner_client.post(_url(owner_client, assistant), {"test_version": tests.pk})
    job = KnowledgeEvaluation.objects.get()
    report_url = _url(owner_client, assistant, "evaluation_report", job.pk)
    assert response.status_code == 302 and response["Location"] == report_url
    waiting = owner_client.get(_url(owner_client, assistant, "evaluation_report_partial", job.pk)).content.decode()
    assert "Waiting for the index worker" in waiting and 'hx-trigger="every 2s"' in waiting

    assert EvaluationWorker(poll_seconds=1).run_once() is True
    html = owner_client.get(report_url).content.decode()
    assert 'hx-trigger="every 2s"' not in html
    for testid, value in (("recall-1", "90 %"), ("recall-3", "90 %"), ("recall-5", "90 %"),
                          ("abstained-answerable", "10 %"), ("answered-unanswerable", "0 %")):
        assert f'data-testid="{testid}">{value}</strong>' in html
    assert "9 of 10 questions it should answer" in html and "0 of 4 marked “no”" in html
    assert "its text contains the expected text" in html  # the rule, said on the page
    assert "Do you sell electric bicycles?" in html and "not among the 5 passages found" in html
    job.refresh_from_db()
    assert f'data-testid="suggested-threshold">{job.suggested_threshold}</strong>' in html
    listed = owner_client.get(_url(owner_client, assistant)).content.decode()
    assert "14 questions" in listed and "90 %" in listed  # the tab lists it with its recall@3

    response = owner_client.post(_url(owner_client, assistant, "evaluation_threshold_use", job.pk), follow=True)
    assistant.refresh_from_db()
    assert assistant.kind_config["threshold"] == job.suggested_threshold
    assert f"“How sure before answering” is now {job.suggested_threshold:.3g} on the draft." in \
        response.content.decode()


def test_bad_test_sets_are_refused_with_what_to_fix_and_queue_nothing(owner_client, assistant, faq, ready):
    team, user = owner_client.team, owner_client.user
    cases = [
        (_tests(owner_client, [("Where is my parcel?", "", "")], name="No expected"),
         "Row 1 (“Where is my parcel?”) has no expected answer or passage. Write the answer, or the title of the "
         "passage that answers it, or mark the row “no” in the should-answer column if your documents cannot "
         "answer it."),
        (_tests(owner_client, [("Where is my parcel?", "Track it", "maybe")], name="Bad yes/no"),
         "Row 1: “maybe” in the should-answer column is not yes or no. Write “no” on questions your documents cannot "
         "answer and “yes” (or nothing) on the others."),
    ]
    empty = dataset_version_create(
        source=dataset_upload_create(team=team, user=user, name="Empty questions",
                                     file=uploaded("t.csv", b"question,expected\n,Track it\n ,Returns\n")),
        user=user, kind="qa", shape="tests", column_mapping={"question": ["question"], "expected": ["expected"]},
        validation_fraction=0)
    cases.append((empty, f"{empty} has no test questions: every row's “question” is empty. Map the column that "
                         "holds the questions on its dataset page, or upload a file with questions in it."))
    cases.append((faq, f"{faq} is not mapped as test questions. On its dataset page, “Change mapping or split” → "
                       "“Q&A: test questions”, and pick the column that holds the questions."))
    for version, message in cases:
        with pytest.raises(ValidationError) as refused:
            knowledge_evaluation_create(product=assistant, test_version=version, user=user)
        assert refused.value.message_dict["test_version"] == [message]
    # Through the page: the message beside the picker, no job.
    page = owner_client.post(_url(owner_client, assistant), {"test_version": cases[1][0].pk}).content.decode()
    assert "“maybe” in the should-answer column is not yes or no" in page
    assert not KnowledgeEvaluation.objects.exists()


def test_a_file_without_a_question_column_cannot_be_mapped_as_test_questions(owner_client):
    upload = dataset_upload_create(team=owner_client.team, user=owner_client.user, name="Answers only",
                                   file=uploaded("a.csv", b"expected,notes\nTrack it,x\n"))
    with pytest.raises(ValidationError) as refused:
        dataset_version_create(source=upload, user=owner_client.user, kind="qa", shape="tests",
                               column_mapping={"expected": ["expected"]})
    assert refused.value.message_dict["question"] == ["Choose the column that holds question."]


def test_an_assistant_still_reading_its_documents_says_how_far_instead_of_evaluating(owner_client, assistant, faq):
    index_building(KnowledgeIndex.objects.get(dataset_version=faq), done=12, total=30)
    tests = _tests(owner_client, [("Where is my parcel?", "Track it", "")])
    page = owner_client.post(_url(owner_client, assistant), {"test_version": tests.pk}).content.decode()
    assert "Still reading your documents (40 %). Evaluate once they are read." in page
    assert not KnowledgeEvaluation.objects.exists()


def test_the_tab_says_how_to_make_test_questions_when_the_team_has_none(owner_client, assistant):
    page = owner_client.get(_url(owner_client, assistant)).content.decode()
    assert "No test questions yet" in page and "Upload test questions" in page


def test_viewers_read_reports_but_start_nothing_and_other_teams_get_404_on_every_evaluation_page(
    client, owner_client, assistant, ready, make_member, make_team
):
    job = knowledge_evaluation_create(product=assistant, test_version=_tests(owner_client, [("Q?", "A", "")]),
                                      user=owner_client.user)
    pages = [_url(owner_client, assistant), _url(owner_client, assistant, "evaluation_report", job.pk),
             _url(owner_client, assistant, "evaluation_report_partial", job.pk)]
    use = _url(owner_client, assistant, "evaluation_threshold_use", job.pk)

    client.force_login(make_member(owner_client.team, Role.VIEWER).user)
    assert "Viewers can read the reports" in client.get(pages[0]).content.decode()
    assert client.post(pages[0], {"test_version": job.test_version_id}).status_code == 404
    assert client.post(use).status_code == 403

    other = make_team("Other")
    stranger = other.memberships.get().user
    client.force_login(stranger)
    for url in pages:
        assert client.get(url).status_code == 404
    assert client.post(pages[0], {"test_version": job.test_version_id}).status_code == 404
    assert client.post(use).status_code == 404
    # Another team's own assistant cannot reach this evaluation by its id either.
    theirs = product_create(team=other, user=stranger, kind_id="qa", template_id="store-faq", name="Their helper")
    for name in ("evaluation_report", "evaluation_report_partial"):
        assert client.get(reverse(name, args=[other.slug, theirs.slug, job.pk])).status_code == 404
    assert client.post(reverse("evaluation_threshold_use", args=[other.slug, theirs.slug, job.pk])).status_code == 404
    assert KnowledgeEvaluation.objects.count() == 1


def test_a_file_of_questions_expected_texts_and_yes_no_is_guessed_as_test_questions_and_qa_pairs_stay_pairs():
    qa = shapes_for("qa")
    assert purpose_guess(columns=["Question", "Expected answer", "Should answer"], shapes=qa).id == "tests"
    assert purpose_guess(columns=["question", "answer"], shapes=qa).id == "pairs"
    tests = shape_get("qa", "tests")
    assert mapping_guess(shape=tests, columns=["Question", "Expected answer", "Should answer"]) == {
        "question": ["Question"], "expected": ["Expected answer"], "should_answer": ["Should answer"]}


def test_test_questions_an_evaluation_used_cannot_be_deleted_and_the_message_names_it(owner_client, assistant, ready):
    tests = _tests(owner_client, [("Where is my parcel?", "Track it", "")])
    job = knowledge_evaluation_create(product=assistant, test_version=tests, user=owner_client.user)
    with pytest.raises(ValidationError) as refused:
        dataset_version_delete(version=tests)
    assert refused.value.messages == [f"v1 is used by 1 knowledge evaluation ({job}), so it cannot be deleted. "
                                      "Delete or change those first, or keep this version."]


def test_a_saved_version_is_evaluated_with_its_own_threshold_and_passages_not_the_drafts(
    owner_client, assistant, faq, ready
):
    product_knowledge_update(product=assistant, knowledge_version=faq, kind_config={"threshold": 0.5, "top_k": 2})
    saved = product_version_create(product=assistant, user=owner_client.user)
    product_knowledge_update(product=assistant, knowledge_version=faq, kind_config={"threshold": 0.2, "top_k": 6})
    tests = _tests(owner_client, [("Where is my parcel?", "Track it", "")])

    response = owner_client.post(_url(owner_client, assistant), {"test_version": tests.pk, "version": saved.pk})
    job = KnowledgeEvaluation.objects.get()
    assert response.status_code == 302 and (job.version, job.threshold, job.top_k) == (saved, 0.5, 2)
    assert f"Version {saved.number}: {tests} searched in" in owner_client.get(response["Location"]).content.decode()
    draft = knowledge_evaluation_create(product=assistant, test_version=tests, user=owner_client.user)
    assert (draft.version, draft.threshold, draft.top_k) == (None, 0.2, 6)

    other = product_create(team=owner_client.team, user=owner_client.user, kind_id="qa", template_id="store-faq",
                           name="Other helper", knowledge_version=faq)
    with pytest.raises(ValidationError) as refused:
        knowledge_evaluation_create(product=other, test_version=tests, user=owner_client.user, version=saved)
    assert refused.value.message_dict["version"] == ["Pick one of this assistant's versions."]


def test_a_report_without_questions_marked_no_says_why_it_suggests_no_threshold(owner_client, assistant, ready):
    job = knowledge_evaluation_create(product=assistant, test_version=_tests(owner_client, [("Q?", "A", "")]),
                                      user=owner_client.user)
    result = KnowledgeEvaluationResult.objects.create(evaluation=job, row=1, question="Q?", expected="A",
                                                      best_score=0.6, abstained=False, found_rank=1, retrieved=[])
    job.summary = evaluation_summary([result], threshold=job.threshold, top_k=job.top_k)
    job.status, job.suggested_threshold = KnowledgeEvaluation.Status.SUCCEEDED, None
    job.save()

    html = owner_client.get(_url(owner_client, assistant, "evaluation_report", job.pk)).content.decode()
    assert 'data-testid="recall-1">100 %</strong>' in html and 'data-testid="answered-unanswerable"' not in html
    assert "No threshold is suggested: the test set marks no question “no” in its should-answer column" in html
    assert "Use this threshold" not in html and "No misses: every question was handled right." in html
    response = owner_client.post(_url(owner_client, assistant, "evaluation_threshold_use", job.pk), follow=True)
    assert "This evaluation suggests no threshold" in response.content.decode()
    assistant.refresh_from_db()
    assert assistant.kind_config["threshold"] == 0.35


def test_a_passage_matches_by_row_title_contained_text_or_as_part_of_a_longer_expected_passage():
    faq = {"title": "Do you offer gift wrapping?", "text": "Do you offer gift wrapping?\nYes, for 3 € per order.",
           "source_row": 14}
    assert passage_matches("row 14", **faq) and passage_matches("#14", **faq) and not passage_matches("Row 13", **faq)
    assert passage_matches("do you offer GIFT wrapping", **faq)  # the title, case and punctuation aside
    assert passage_matches("Yes, for 3 €  per order", **faq)  # in its text
    assert passage_matches("Intro. Do you offer gift wrapping? Yes, for 3 € per order. More text.", **faq)
    assert not passage_matches("Gift cards", **faq) and not passage_matches("", **faq)


def test_test_questions_uploaded_on_the_dataset_pages_are_guessed_saved_and_offered_on_the_evaluation_tab(
    owner_client, assistant
):
    data = b"Question,Expected answer,Should answer\nWhere is my parcel?,How can I track my order?,\nWho is Zeus?,,no\n"
    upload = dataset_upload_create(team=owner_client.team, user=owner_client.user, name="Shop tests",
                                   file=uploaded("tests.csv", data))
    review = reverse("dataset_upload_review", args=[owner_client.team.slug, upload.pk])
    html = owner_client.get(review).content.decode()
    assert '<option value="qa:tests" selected>Q&amp;A: test questions</option>' in html
    assert "Expected answer or passage" in html and "Who is Zeus?" in html

    response = owner_client.post(review, {
        "purpose": "qa:tests", "shown_purpose": "qa:tests", "map_question": "Question",
        "map_expected": "Expected answer", "map_should_answer": "Should answer", "validation_percent": "0",
        "split_seed": "42", "action": "save"})
    assert response.status_code == 302
    page = owner_client.get(_url(owner_client, assistant)).content.decode()
    assert "Shop tests v1" in page and "No test questions yet" not in page
