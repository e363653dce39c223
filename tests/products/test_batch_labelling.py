"""“Label a file”: a classification product's trained version labels every row of a dataset in a leased job.

The classifier is the real MiniLM one built once a session (tests/training/classifier_fixtures.py) and
registered as a run's artifact; the label worker is the real one, run a job at a time.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from inference.jobs import job_claim
from inference.labelling.worker import LabellingWorker
from inference.models import LabellingJob
from products.datasets.services import dataset_upload_create, dataset_version_create
from products.labelling.services import labelling_job_create
from products.services import product_create, product_version_create
from studio.roles import Role
from tests.training.classifier_fixtures import publish_trained_version

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def served(router, make_labelled_version, classifier_artifact, media_root):
    """The router with a published version serving a real MiniLM classifier (built without a run)."""
    team, owner, product = router
    publish_trained_version(product=product, user=owner, dataset_version=make_labelled_version(),
                            artifact=classifier_artifact, media_root=media_root)
    product.refresh_from_db()
    return team, owner, product, None

PARCEL = "My parcel never arrived and the tracking has not moved for a week."
TEXTS = [PARCEL, "I was charged twice for the same order, please refund one.", "",
         "=HYPERLINK(\"http://evil.example\",\"click\")", "How do I change the email address on my account?"]


def _texts_version(team, owner, texts=TEXTS, *, name="Inbox"):
    body = io.StringIO()
    writer = csv.writer(body)
    writer.writerow(["message"])
    writer.writerows([text] for text in texts)
    upload = dataset_upload_create(team=team, user=owner, name=name, file=SimpleUploadedFile(
        "inbox.csv", body.getvalue().encode(), content_type="text/csv"))
    return dataset_version_create(source=upload, user=owner, kind="classification", shape="texts",
                                  column_mapping={"text": ["message"]}, validation_fraction=0)


def _label(product, owner, dataset_version) -> LabellingJob:
    job = labelling_job_create(product=product, version=product.live_version, dataset_version=dataset_version,
                               user=owner)
    assert LabellingWorker(poll_seconds=1).run_once() is True
    job.refresh_from_db()
    return job


def _rows(job: LabellingJob) -> list[dict[str, str]]:
    with job.output.open("rb") as handle:
        return list(csv.DictReader(io.StringIO(handle.read().decode("utf-8-sig"))))


def test_a_file_of_texts_gets_a_label_a_confidence_and_every_probability_per_row_in_a_csv(served):
    team, owner, product, _ = served
    job = _label(product, owner, _texts_version(team, owner))

    assert (job.status, job.error, job.rows_total, job.rows_done) == ("succeeded", "", 4, 4)
    rows = _rows(job)
    assert list(rows[0]) == ["row", "text", "label", "confidence", "top label",
                             "p(account)", "p(billing)", "p(shipping)"]
    assert [row["row"] for row in rows] == ["1", "2", "4", "5"]  # the empty third row has nothing to label
    assert rows[0]["label"] == "shipping"
    for row in rows:
        probabilities = [float(row[f"p({label})"]) for label in ("account", "billing", "shipping")]
        assert sum(probabilities) == pytest.approx(1, abs=1e-3)
        assert float(row["confidence"]) == pytest.approx(max(probabilities), abs=1e-4)
    assert rows[2]["text"].startswith("'=HYPERLINK")  # a spreadsheet shows the formula as text, never runs it
    assert sum(job.label_counts.values()) == 4 and job.compared == 0


def test_a_labelled_file_says_how_often_the_classifier_agrees_with_its_labels(served, make_labelled_version):
    _, owner, product, _ = served
    job = _label(product, owner, make_labelled_version(fraction=0, name="Checked tickets"))

    rows = _rows(job)
    assert job.compared == len(rows) == 60
    assert job.agreed == sum(row["agrees"] == "yes" for row in rows) >= 50  # labelled by the rows it learnt from
    assert {row["label in file"] for row in rows} == {"account", "billing", "shipping"}


def test_labelling_refuses_an_untrained_version_and_a_dataset_not_mapped_as_texts_and_queues_nothing(
    served, make_labelled_version, make_team
):
    team, owner, product, _ = served
    fresh = product_create(team=team, user=owner, kind_id="classification", template_id="spam-detection",
                           name="Spam filter")
    untrained = product_version_create(product=fresh, user=owner)
    with pytest.raises(ValidationError) as refused:
        labelling_job_create(product=fresh, version=untrained, dataset_version=_texts_version(team, owner),
                             user=owner)
    assert refused.value.message_dict["version"] == [
        f"Version {untrained.number} has no trained classifier. Train one on the Fine-tune tab, then “Create a "
        "version with this model” on the finished run, and label with that version."]

    upload = dataset_upload_create(team=team, user=owner, name="Help centre", file=SimpleUploadedFile(
        "faq.csv", b"title,document\nReturns,Send it back within 30 days.\n", content_type="text/csv"))
    documents = dataset_version_create(source=upload, user=owner, kind="qa", shape="documents",
                                       column_mapping={"title": ["title"], "document": ["document"]},
                                       validation_fraction=0)
    with pytest.raises(ValidationError) as refused:
        labelling_job_create(product=product, version=product.live_version, dataset_version=documents, user=owner)
    assert "is not mapped as texts to label" in refused.value.message_dict["dataset_version"][0]

    other = make_team("Other")
    theirs = _texts_version(other, other.memberships.get().user)
    with pytest.raises(ValidationError) as refused:
        labelling_job_create(product=product, version=product.live_version, dataset_version=theirs, user=owner)
    assert refused.value.message_dict["dataset_version"] == ["Pick one of your team's datasets."]
    assert LabellingJob.objects.count() == 0


def test_a_job_whose_worker_was_lost_is_labelled_again_from_the_start_with_every_row_once(served):
    team, owner, product, _ = served
    job = labelling_job_create(product=product, version=product.live_version,
                               dataset_version=_texts_version(team, owner), user=owner)
    lost = job_claim(LabellingJob, worker="lost-worker", queues=[LabellingJob.LABEL], lease_seconds=30)
    assert lost.pk == job.pk
    LabellingJob.objects.filter(pk=job.pk).update(rows_done=2, lease_expires_at=timezone.now() - timedelta(seconds=1))

    assert LabellingWorker(poll_seconds=1).run_once() is True  # its sweep requeues the job, then it claims it
    job.refresh_from_db()
    assert (job.status, job.attempts, job.rows_done) == ("succeeded", 2, 4)
    assert [row["row"] for row in _rows(job)] == ["1", "2", "4", "5"]


def test_the_label_a_file_tab_starts_a_job_lists_it_and_downloads_the_csv_for_the_team_only(
    served, client, make_member, make_team
):
    team, owner, product, _ = served
    texts = _texts_version(team, owner)
    page = reverse("label_file", args=[team.slug, product.slug])
    client.force_login(owner)
    html = client.get(page).content.decode()
    assert "Label the file" in html and "Inbox v1" in html and "No file labelled yet." in html

    response = client.post(page, {"dataset_version": texts.pk, "version": product.live_version_id})
    assert response.status_code == 302
    job = LabellingJob.objects.get()
    assert "Waiting for the label worker" in client.get(reverse("label_file_jobs", args=[team.slug, product.slug]))\
        .content.decode()
    assert LabellingWorker(poll_seconds=1).run_once() is True
    html = client.get(page).content.decode()
    assert "4 rows labelled" in html and "Download CSV" in html
    download = client.get(reverse("label_file_download", args=[team.slug, product.slug, job.pk]))
    assert download["Content-Disposition"] == 'attachment; filename="Inbox v1 labelled.csv"'
    assert b"".join(download.streaming_content).decode("utf-8-sig").startswith("row,text,label,confidence")

    client.force_login(make_member(team, Role.VIEWER).user)
    assert "Viewers can download labelled files" in client.get(page).content.decode()
    assert client.post(page, {"dataset_version": texts.pk, "version": product.live_version_id}).status_code == 404
    assert LabellingJob.objects.count() == 1

    client.force_login(make_team("Other").memberships.get().user)
    for url in (page, reverse("label_file_jobs", args=[team.slug, product.slug]),
                reverse("label_file_download", args=[team.slug, product.slug, job.pk])):
        assert client.get(url).status_code == 404


def test_only_classification_products_have_a_label_a_file_tab(client, make_team):
    team = make_team("Copy shop")
    owner = team.memberships.get().user
    product = product_create(team=team, user=owner, kind_id="copywriting", template_id="product-description",
                             name="Descriptions")
    client.force_login(owner)
    assert "Label a file" not in client.get(reverse("playground", args=[team.slug, product.slug])).content.decode()
    assert client.get(reverse("label_file", args=[team.slug, product.slug])).status_code == 404
