"""An editor fine-tunes a product from its Fine-tune tab, watches the loss curve grow, reads the report and ships it."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from playwright.sync_api import expect

from inference.models import TrainingRun
from products.datasets.services import dataset_upload_create, dataset_version_create
from products.services import product_create
from studio.roles import Role
from tests.browser.conftest import log_in
from tests.training.conftest import dataset_csv

pytestmark = [pytest.mark.browser, pytest.mark.model]

TRAINING_S = 240_000  # ms the page may take to show a result of the real model on a busy CPU


def _log_in_elsewhere(browser, live_server_url: str, user):
    """A second person at their own browser: a fresh context, logged in through the form."""
    other = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    other.set_default_timeout(15_000)
    return log_in(other, live_server_url, user)


def test_editor_starts_a_fine_tune_sees_the_chart_grow_and_the_report_and_makes_a_version(
    logged_in_page, live_server_url, make_team, make_member, browser
):
    team = make_team("Shop")
    owner = team.memberships.get().user
    viewer = _log_in_elsewhere(browser, live_server_url, make_member(team, Role.VIEWER).user)
    product = product_create(team=team, user=owner, kind_id="copywriting", template_id="product-description")
    upload = dataset_upload_create(team=team, user=owner, name="Descriptions",
                                   file=SimpleUploadedFile("descriptions.csv", dataset_csv()))
    dataset_version_create(source=upload, user=owner, kind="copywriting", shape="examples",
                           column_mapping={"inputs": ["product", "features"], "output": ["description"]})
    page = logged_in_page(owner)
    dashboard = page.context.new_page()  # a teammate's view: the dashboard says when the run ends
    dashboard.goto(f"{live_server_url}/t/{team.slug}/")
    page.goto(f"{live_server_url}/t/{team.slug}/products/{product.slug}/")

    page.get_by_role("link", name="Fine-tune").click()
    expect(page.get_by_label("Dataset version")).to_contain_text("Descriptions v1 · 11 to train on, 1 held out")
    expect(page.get_by_test_id("estimate-time")).to_contain_text("on the CPU")
    page.get_by_text("Advanced settings").click()
    page.get_by_label("Epochs").fill("1")
    expect(page.locator("#estimate")).to_contain_text("1 epoch")  # the estimate follows the settings
    page.get_by_role("button", name="Fine-tune").click()

    expect(page.get_by_role("heading", name=re.compile(r"Training run \d+"))).to_be_visible()
    viewer.goto(page.url)  # a viewer teammate watches the same run from the start
    expect(viewer.get_by_test_id("run-status")).to_be_visible()
    expect(viewer.get_by_role("button", name="Cancel")).to_have_count(0)
    chart = page.get_by_test_id("chart-train")
    expect(chart).to_have_attribute("points", "")  # nothing trained when the page was drawn
    expect(chart).to_have_attribute("points", re.compile(r"\d+\.\d,\d+\.\d"), timeout=TRAINING_S)  # live points
    expect(page.get_by_test_id("run-status")).to_have_text("Succeeded", timeout=TRAINING_S)
    expect(page.get_by_test_id("run-step")).to_have_text("3")
    # The redirect's "queued" notice went once a worker took the run: the page never says it still waits.
    expect(page.get_by_text("Fine-tune queued.")).to_have_count(0)
    expect(page.locator("#run-eta")).not_to_have_text("waiting for a worker")
    report = page.get_by_test_id("run-report")
    expect(report).to_contain_text("the tuned model's loss is")
    expect(report).to_contain_text("Side by side")
    expect(page.get_by_text("Finished. The evaluation report is ready.")).to_be_visible()
    notice = dashboard.get_by_test_id("training-notice")
    expect(notice).to_have_text(re.compile(r"Training run \d+ of Product description finished\."))
    expect(dashboard.locator("#dashboard-panels")).to_contain_text("Succeeded")  # the panels refreshed too

    # The viewer saw it live too, and cannot ship the model.
    expect(viewer.get_by_test_id("run-status")).to_have_text("Succeeded", timeout=TRAINING_S)
    expect(viewer.get_by_test_id("chart-train")).to_have_attribute("points", re.compile(r"\d+\.\d,\d+\.\d"))
    expect(viewer.get_by_test_id("run-report")).to_contain_text("Side by side")
    expect(viewer.get_by_role("button", name="Create a version with this model")).to_have_count(0)
    # After a reload nothing is lost: the run page draws the same, and the dashboard still says the run finished.
    page.reload()
    expect(page.get_by_test_id("run-status")).to_have_text("Succeeded")
    expect(chart).to_have_attribute("points", re.compile(r"\d+\.\d,\d+\.\d"))
    expect(page.get_by_test_id("run-report")).to_contain_text("the tuned model's loss is")
    viewer.goto(f"{live_server_url}/t/{team.slug}/")
    expect(viewer.get_by_test_id("training-notice")).to_have_text(
        re.compile(r"^Training run \d+ of Product description finished\.")
    )
    viewer.context.close()

    page.get_by_role("button", name="Create a version with this model").click()
    expect(page.get_by_text(re.compile(r"Saved version 1 with the fine-tuned model"))).to_be_visible()
    run = TrainingRun.objects.get()
    assert run.status == "succeeded" and product.versions.get().fine_tuned_artifact == run.artifact
