"""A shop makes a “Picked for you” recommender from the gallery, trains it on the shipped sample catalog and
purchases in the live studio's own worker (real implicit + MiniLM), reads the report against popularity, makes
a version and reads the top 10 with reasons in the playground; then the published recommender's widget shows
“Recommended for you” cards on the shop's own website (a second localhost port) for the items viewed there."""

from __future__ import annotations

import csv
import re
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from playwright.sync_api import expect

from inference.models import TrainingRun
from products.datasets.seed import SAMPLES_DIR
from products.datasets.services import dataset_upload_create, dataset_version_create
from products.embed.services import product_embed_update
from products.models import Generation
from products.services import product_create, product_version_publish
from products.training.services import product_version_create_from_run, training_run_create
from tests.api.conftest import fresh_rate_limits  # noqa: F401 - fixture (rate limits: autouse)
from tests.browser.conftest import READY_TIMEOUT_MS, product_from_gallery, wait_until_ready
from tests.browser.test_widget_journey import shop_site  # noqa: F401 - fixture: the shop's website
from tests.training.recommender_fixtures import CATALOG_MAPPING, INTERACTIONS_MAPPING

pytestmark = [pytest.mark.browser, pytest.mark.model]

TRAINING_MS = 240_000  # three ALS fits and MiniLM over 63 items in the live studio's worker, on a busy CPU
SHORT_HISTORY = (
    "This customer has chosen only 2 items so far, so these are items similar to what they chose, "
    "mixed with what is popular"
)


def _datasets(team, owner):
    """The shipped sample as the shop's two datasets: (catalog, interactions) versions."""
    versions = []
    for shape, name, file_name, mapping in (
        ("catalog", "Shop catalog", "shop_catalog.csv", CATALOG_MAPPING),
        ("interactions", "Purchases", "shop_interactions.csv", INTERACTIONS_MAPPING),
    ):
        upload = dataset_upload_create(
            team=team,
            user=owner,
            name=name,
            file=SimpleUploadedFile(file_name, (SAMPLES_DIR / file_name).read_bytes(), content_type="text/csv"),
        )
        versions.append(
            dataset_version_create(
                source=upload, user=owner, kind="recommendation", shape=shape, column_mapping=mapping
            )
        )
    return versions


def _bought(user: str) -> set[str]:
    with (SAMPLES_DIR / "shop_interactions.csv").open(newline="") as handle:
        return {row["sku"] for row in csv.DictReader(handle) if row["customer_id"] == user}


def _measure(page, method: str, column: int) -> float:
    row = page.locator("#recommender-measures tbody tr", has=page.get_by_role("rowheader", name=method))
    return float(row.locator("td").nth(column).text_content())


def test_gallery_to_a_trained_recommender_to_a_top_10_with_reasons_in_the_playground(
    logged_in_page, live_server_url, make_team
):
    team = make_team("Trail Shop")
    owner = team.memberships.get().user
    _datasets(team, owner)
    page = logged_in_page(owner)
    product_from_gallery(page, live_server_url, team, "Picked for you", "Shop picks")

    page.get_by_role("link", name="Fine-tune").click()
    page.get_by_label("Catalog").select_option(label="Shop catalog v1 · 63 rows")
    page.get_by_label("Interactions").select_option(label="Purchases v1 · 1,120 rows")
    expect(page.get_by_test_id("recommender-preflight")).to_contain_text("63 in the catalog, 3 without any interaction")
    page.get_by_role("button", name="Train recommender").click()
    expect(page.get_by_role("heading", name=re.compile(r"Training run \d+"))).to_be_visible()
    expect(page.get_by_test_id("run-status")).to_have_text("Succeeded", timeout=TRAINING_MS)

    # The report: the trained hybrid beside popularity, as bars and as a table.
    expect(page.get_by_test_id("metrics-chart")).to_be_visible()
    expect(page.get_by_test_id("recommender-report")).to_contain_text("Popularity")
    hybrid, popularity = _measure(page, "Hybrid (trained)", 1), _measure(page, "Popularity", 1)
    assert 0 <= popularity < hybrid <= 1  # NDCG@10
    expect(page.get_by_test_id("example-user").first).to_contain_text("Chose next:")
    page.get_by_role("button", name="Create a version with this model").click()
    expect(page.get_by_text(re.compile(r"Saved version 1 with the fine-tuned model"))).to_be_visible()

    page.get_by_role("link", name="Playground").click()
    wait_until_ready(page, "#playground")
    page.get_by_label("Customer id").fill("u001")
    page.get_by_role("button", name="Generate").click()
    cards = page.locator("#outputs .reco-card")
    expect(cards).to_have_count(10, timeout=READY_TIMEOUT_MS)
    reasons = page.locator("#outputs .reco-reason").all_text_contents()
    assert any(reason.startswith("Because you liked ") for reason in reasons), reasons
    assert all(reason.startswith(("Because you liked ", "Similar to ")) for reason in reasons), reasons
    shown = {card.get_attribute("data-item-id") for card in cards.all()}
    assert len(shown) == 10 and not shown & _bought("u001")  # never what they already bought
    expect(page.locator("#outputs .reco-fallback")).to_have_count(0)

    # A customer with two purchases: similar items and popularity, and the page says so and why.
    page.get_by_label("Customer id").fill("u084")
    page.get_by_role("button", name="Generate").click()
    # The result's own note, not its copy in the recent-results list (which may or may not have refreshed yet).
    expect(page.locator("#outputs .reco-fallback")).to_contain_text(SHORT_HISTORY, timeout=READY_TIMEOUT_MS)


def _train_in_the_live_studio(product, owner, catalog, interactions) -> TrainingRun:
    """Start a run and wait for the live studio's training worker to finish it."""
    run = training_run_create(product=product, dataset_version=interactions, catalog_version=catalog, user=owner)
    deadline = time.monotonic() + TRAINING_MS / 1000
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.status in ("succeeded", "failed", "cancelled"):
            break
        time.sleep(1)
    assert run.status == "succeeded", run.error
    return run


def test_the_widget_shows_recommended_for_you_cards_for_the_items_the_shop_page_says_were_viewed(
    page,
    live_server_url,
    make_team,
    shop_site,  # noqa: F811 - the imported fixture
):
    team = make_team("Trail Shop")
    owner = team.memberships.get().user
    catalog, interactions = _datasets(team, owner)
    product = product_create(
        team=team, user=owner, kind_id="recommendation", template_id="picked-for-you", name="Shop picks"
    )
    run = _train_in_the_live_studio(product, owner, catalog, interactions)
    product_version_publish(product=product, version=product_version_create_from_run(run=run, user=owner))
    product_embed_update(
        product=product, allowed_origins=[shop_site.origin], messages_per_visitor_hour=20, messages_per_day=100
    )

    # The shop's product page names what the visitor viewed on the script tag (README: Widget).
    shop_site.script_tag = (
        f'<script src="{live_server_url}/embed/{product.public_key}.js" async data-viewed="CA001, CA002"></script>'
    )
    page.goto(shop_site.origin)
    wait_until_ready(page, "ai-studio-chat")
    page.get_by_role("button", name="Show recommendations").click()
    panel = page.get_by_role("dialog", name="Recommended for you")
    expect(panel.get_by_role("heading", name="Recommended for you")).to_be_visible()
    cards = page.locator("ai-studio-chat .reco-card")
    expect(cards).to_have_count(10, timeout=READY_TIMEOUT_MS)
    first = {card.get_attribute("data-item-id") for card in cards.all()}
    assert not first & {"CA001", "CA002"}
    assert all(reason for reason in page.locator("ai-studio-chat .reco-reason").all_text_contents())
    expect(cards.first.get_by_role("link")).to_have_attribute("href", re.compile(r"^https://shop\.example/p/"))
    generation = Generation.objects.get()
    assert (generation.channel, generation.inputs["items"]) == ("widget", ["CA001", "CA002"])

    # As the visitor browses on, the page tells the widget with the documented event; the cards follow.
    page.evaluate(
        """() => document.dispatchEvent(new CustomEvent("ai-studio:viewed", { detail: { items: ["CA003"] } }))"""
    )
    deadline = time.monotonic() + READY_TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        latest = Generation.objects.order_by("-pk").first()
        if latest.pk != generation.pk and latest.status != "running":
            break
        time.sleep(0.2)
    assert latest.inputs["items"] == ["CA001", "CA002", "CA003"] and latest.status == "finished"
    expected = [item["id"] for item in latest.result["items"]]
    assert "CA003" not in expected
    expect(cards.last).to_have_attribute("data-item-id", expected[-1], timeout=READY_TIMEOUT_MS)
    assert [card.get_attribute("data-item-id") for card in cards.all()] == expected
