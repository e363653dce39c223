"""An editor makes a ticket router from the gallery, trains it on labelled tickets, reads the report, makes a
version, tries it in the playground and labels a whole file — on the live studio's own workers (real MiniLM)."""

from __future__ import annotations

import csv
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from playwright.sync_api import expect

from inference.models import LabellingJob, TrainingRun
from products.datasets.services import dataset_upload_create, dataset_version_create
from products.models import Product
from tests.browser.conftest import READY_TIMEOUT_MS, wait_until_ready
from tests.training.classifier_fixtures import labelled_csv, sample_rows

pytestmark = [pytest.mark.browser, pytest.mark.model]

TRAINING_MS = 240_000  # the real encoder trains in the live studio's worker on a busy CPU
PARCEL = "My parcel never arrived and the tracking has not moved for a week."


def _datasets(team, owner) -> None:
    upload = dataset_upload_create(team=team, user=owner, name="Tickets", file=SimpleUploadedFile(
        "tickets.csv", labelled_csv(sample_rows(per_label=15)), content_type="text/csv"))
    dataset_version_create(source=upload, user=owner, kind="classification", shape="labelled",
                           column_mapping={"text": ["message"], "label": ["category"]}, validation_fraction=0.25)
    inbox = "message\n" + "\n".join([PARCEL, "I was charged twice for one order.", "I cannot log in to my account."])
    upload = dataset_upload_create(team=team, user=owner, name="Inbox", file=SimpleUploadedFile(
        "inbox.csv", inbox.encode(), content_type="text/csv"))
    dataset_version_create(source=upload, user=owner, kind="classification", shape="texts",
                           column_mapping={"text": ["message"]}, validation_fraction=0)


def test_gallery_to_trained_router_to_a_label_in_the_playground_and_a_labelled_file(
    logged_in_page, live_server_url, make_team
):
    team = make_team("Helpdesk")
    owner = team.memberships.get().user
    _datasets(team, owner)
    page = logged_in_page(owner)

    page.goto(f"{live_server_url}/t/{team.slug}/products/new/")
    card = page.locator("form.template-card", has_text="Route support tickets")
    card.get_by_label("Name for Route support tickets").fill("Router")
    card.get_by_role("button", name="Use “Route support tickets”").click()
    page.wait_for_url(f"{live_server_url}/t/{team.slug}/products/router/")

    page.get_by_role("link", name="Fine-tune").click()
    expect(page.get_by_label("Dataset version")).not_to_contain_text("Inbox")  # texts to label teach nothing
    # The pre-flight estimate speaks of the classifier trainer's speed, not the language model's.
    expect(page.get_by_text(re.compile(r"Speed: (5,000|2,500) tokens a second, typical for"))).to_be_visible()
    page.get_by_text("Advanced settings").click()
    page.get_by_label("Epochs").fill("1")
    page.get_by_role("button", name="Train classifier").click()
    expect(page.get_by_role("heading", name=re.compile(r"Training run \d+"))).to_be_visible()
    expect(page.get_by_test_id("run-status")).to_have_text("Succeeded", timeout=TRAINING_MS)
    expect(page.get_by_test_id("run-report")).to_contain_text("Accuracy")
    _read_the_report(page)
    page.get_by_role("button", name="Create a version with this model").click()
    expect(page.get_by_text(re.compile(r"Saved version 1 with the fine-tuned model"))).to_be_visible()
    assert TrainingRun.objects.get().status == "succeeded"

    page.get_by_role("link", name="Playground").click()
    wait_until_ready(page, "#playground")
    page.get_by_label("Message").fill(PARCEL)
    page.get_by_role("button", name="Generate").click()
    answer = page.locator("#outputs .label-answer").first
    expect(answer).to_have_text(re.compile(r"^shipping"), timeout=READY_TIMEOUT_MS)
    expect(page.get_by_role("meter", name="shipping")).to_be_visible()

    page.get_by_role("link", name="Label a file").click()
    page.get_by_label("Texts to label").select_option(label="Inbox v1")
    page.get_by_role("button", name="Label the file").click()
    expect(page.get_by_text("Labelling started.")).to_be_visible()
    job_row = page.get_by_test_id("label-job")
    expect(job_row).to_contain_text("3 rows labelled", timeout=READY_TIMEOUT_MS)  # the 2 s poll saw it finish
    with page.expect_download() as download:
        job_row.get_by_role("link", name="Download CSV").click()
    with open(download.value.path(), encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["text"] for row in rows][0] == PARCEL and rows[0]["label"] == "shipping"
    assert LabellingJob.objects.get().product == Product.objects.get(team=team)


def _read_the_report(page) -> None:
    """The confusion matrix lists a cell's texts when its number is clicked; the threshold slider says what share
    would be answered "unsure"."""
    matrix = page.get_by_test_id("confusion-matrix")
    shipping = matrix.locator("tbody tr", has=page.get_by_role("rowheader", name="shipping", exact=True))
    cell = shipping.locator("td.diagonal a")
    count = int(cell.inner_text())
    cell.click()
    examples = page.locator("#cell-examples")
    expect(examples.get_by_role("heading")).to_have_text(
        f"Labelled “shipping”, chosen “shipping”: {count} text{'s' if count != 1 else ''}")
    expect(examples.locator("li")).to_have_count(count)
    expect(page.get_by_role("heading", name="Do the probabilities mean what they say?")).to_be_visible()

    held_out = int(re.search(r"On (\d+) held-out", page.get_by_test_id("classifier-report").inner_text()).group(1))
    slider = page.get_by_label("Try a threshold")
    slider.fill("0")
    expect(page.get_by_test_id("threshold-outcome")).to_contain_text(
        f"Below 0.00: 0 of {held_out} held-out texts (0 %) would be answered “unsure”")
    slider.fill("0.99")
    expect(page.get_by_test_id("threshold-outcome")).to_contain_text(
        re.compile(rf"Below 0\.99: \d+ of {held_out} held-out texts \(\d+ %\) would be answered “unsure”"))
