"""The closed loop in one live studio on the real model: a 👍 and a correction in the logs become a dataset, a
short fine-tune learns from it, a blind comparison pits it against the live version, a 20 % split tries it
on visitors, and Promote makes it live for everyone."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from products.models import Comparison, ComparisonVote, DatasetVersion, Product, ProductVersion
from products.services import product_create, product_draft_update, product_version_create, product_version_publish
from tests.browser.conftest import FIRST_ANSWER_MS, wait_until_ready
from tests.products.logs_helpers import log

pytestmark = [pytest.mark.browser, pytest.mark.model]

WORKER_MS = 300_000  # a fine-tune, then ten real answers, on a busy CPU
BETTER = "Dry feet on every trail, in any weather"


def _seed(team, owner) -> Product:
    product = product_create(team=team, user=owner, kind_id="copywriting", template_id="ad-headlines",
                             name="Headlines")
    product_draft_update(product=product, system_prompt=product.system_prompt, prompt_template=product.prompt_template,
                         settings={"creativity": 0, "length": 16, "variants": 1})
    live = product_version_create(product=product, user=owner, note="first")
    product_version_publish(product=product, version=live, user=owner)
    # What widget visitors rated meanwhile (the worker recorded these answers of the live version).
    for item in ["Trail boots", "Rain jacket", "Wool socks", "Tent", "Head torch", "Day pack",
                 "Water bottle", "Gaiters", "Sleeping bag", "Camp stove", "Map case", "Trek poles"]:
        log(product, f"{item}: made for the outdoors", inputs={"product": item, "benefit": "dry feet"},
            channel="widget", feedback=1, version=live)
    log(product, "Shoes shoes shoes", inputs={"product": "Trail shoes", "benefit": "dry feet"}, channel="widget",
        feedback=-1, version=live)
    return product


def test_ratings_and_corrections_become_a_fine_tune_compared_blind_tried_on_20_percent_and_promoted(
    logged_in_page, live_server_url, make_team
):
    team = make_team("Outdoors")
    owner = team.memberships.get().user
    product = _seed(team, owner)
    page = logged_in_page(owner)
    tabs = page.get_by_role("navigation", name="Product")

    # Rate an answer in the playground (the real model writes it).
    page.goto(f"{live_server_url}/t/{team.slug}/products/{product.slug}/")
    wait_until_ready(page, "#playground")
    page.get_by_label("Product name").fill("Rain boots")
    page.get_by_label("Main benefit").fill("dry feet")
    page.get_by_role("button", name="Generate").click()
    expect(page.get_by_role("button", name="Good result")).to_be_enabled(timeout=FIRST_ANSWER_MS)
    page.get_by_role("button", name="Good result").click()
    expect(page.get_by_role("button", name="Good result")).to_have_attribute("aria-pressed", "true")

    # Correct the bad answer, then turn every 👍 and corrected answer into a dataset.
    tabs.get_by_role("link", name="Logs").click()
    page.get_by_label("Feedback").select_option(label="👎 bad")  # htmx swaps the table in place
    expect(page).to_have_url(re.compile(r"feedback=down"))
    expect(page.get_by_test_id("log-table").get_by_role("link", name="Open")).to_have_count(1)
    page.get_by_test_id("log-table").get_by_role("link", name="Open").click()
    page.get_by_label("What it should have said").fill(BETTER)
    page.get_by_role("button", name="Save correction").click()
    expect(page.get_by_text("Correction saved.")).to_be_visible()
    tabs.get_by_role("link", name="Logs").click()
    page.get_by_label("All 👍 and all corrected answers matching the filters").check()
    page.get_by_label("New dataset's name").fill("From the logs")
    page.get_by_role("button", name="Add to the dataset").click()
    expect(page.get_by_text(re.compile(r"Added 14 logged answers as From the logs v1\."))).to_be_visible()

    # Fine-tune on it: one epoch, a few steps.
    page.goto(f"{live_server_url}/t/{team.slug}/products/{product.slug}/fine-tune/")
    from_logs = DatasetVersion.objects.get(dataset__team=team, dataset__name="From the logs")
    assert from_logs.row_count == 14
    page.get_by_label("Dataset version").select_option(value=str(from_logs.pk))
    page.get_by_text("Advanced settings").click()
    page.get_by_label("Epochs").fill("1")
    page.get_by_role("button", name="Fine-tune").click()
    expect(page.get_by_test_id("run-status")).to_have_text("Succeeded", timeout=WORKER_MS)
    page.get_by_role("button", name="Create a version with this model").click()
    expect(page.get_by_text(re.compile(r"Saved version 2 with the fine-tuned model"))).to_be_visible()
    tuned = ProductVersion.objects.get(product=product, number=2)

    # Compare it blind with the live version on recent real inputs.
    tabs.get_by_role("link", name="Compare").click()
    page.get_by_label("Version B").select_option(value=str(tuned.pk))
    page.get_by_label("The most recent real inputs").check()
    page.get_by_label("How many inputs").fill("5")
    page.get_by_role("button", name="Start the comparison").click()
    expect(page.get_by_test_id("comparison-progress")).to_have_text(re.compile(r"Ready: \d pairs to vote on\."),
                                                                     timeout=WORKER_MS)
    page.get_by_role("link", name="Vote").click()
    pairs = Comparison.objects.get().pairs.exclude(output_a="").count()
    for _ in range(pairs):
        expect(page.get_by_test_id("answer-left")).not_to_be_empty()
        page.get_by_role("button", name="Left is better").click()
    expect(page.get_by_test_id("vote-done")).to_have_text("You have voted on every pair. Thank you.")
    page.get_by_role("link", name="See the results").click()
    expect(page.get_by_test_id("verdict")).to_have_text(re.compile(r"Not decided yet"))
    assert ComparisonVote.objects.count() == pairs

    # Try it on a fifth of the visitors, then make it live for everyone.
    tabs.get_by_role("link", name="Releases").click()
    page.get_by_label("Version to try").select_option(value=str(tuned.pk))
    page.get_by_label("Share of visitors (%)").fill("20")
    page.get_by_role("button", name="Start the split").click()
    expect(page.get_by_text("Version 2 now answers 20 % of visitors.")).to_be_visible()
    page.get_by_role("button", name="Promote version 2: live for everyone").click()
    expect(page.get_by_text("Version 2 is live for everyone.")).to_be_visible()
    product.refresh_from_db()
    assert product.live_version == tuned and tuned.fine_tuned_artifact is not None
