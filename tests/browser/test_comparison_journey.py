"""An editor compares two versions blind: starts the comparison, waits for the answers, votes, reads the tally."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from products.models import Comparison, ComparisonVote
from products.services import product_version_publish
from tests.browser.conftest import READY_TIMEOUT_MS
from tests.comparisons import recent_inputs, two_version_product
from tests.processes import wait_for

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def live_studio_env() -> dict[str, str]:
    return {"DJANGO_SETTINGS_MODULE": "tests.browser.compare_settings"}


def test_editor_compares_two_versions_blind_and_sees_the_tally(logged_in_page, live_server_url, make_team):
    team = make_team("Acme")
    owner = team.memberships.get().user
    product, version_a, version_b = two_version_product(team, owner)
    product_version_publish(product=product, version=version_a, user=owner)
    recent_inputs(product, owner, count=5)

    page = logged_in_page(owner)
    page.goto(f"{live_server_url}/t/{team.slug}/products/{product.slug}/")
    page.get_by_role("navigation", name="Product").get_by_role("link", name="Compare").click()
    expect(page.get_by_label("Version A")).to_have_value(str(version_a.pk))  # the live one
    expect(page.get_by_label("Version B")).to_have_value(str(version_b.pk))
    page.get_by_label("The most recent real inputs").check()
    page.get_by_label("How many inputs").fill("5")
    page.get_by_role("button", name="Start the comparison").click()

    comparison = wait_for(lambda: Comparison.objects.filter(status__in=Comparison.FINISHED).first(),
                          "the comparison worker to finish", timeout=READY_TIMEOUT_MS / 1000, every=0.5)
    assert comparison.status == "succeeded", (comparison.error, list(comparison.pairs.values_list("error", flat=True)))
    # The progress line polls itself (htmx) until both versions have written every answer.
    expect(page.get_by_test_id("comparison-progress")).to_have_text("Ready: 5 pairs to vote on.",
                                                                     timeout=READY_TIMEOUT_MS)
    page.get_by_role("link", name="Vote").click()
    for _ in range(5):
        expect(page.get_by_test_id("answer-left")).not_to_be_empty()
        left = page.get_by_test_id("answer-left").text_content()
        # Vote for version B's voice wherever the page happened to put it.
        page.get_by_role("button", name="Left is better" if left.startswith("Bold") else "Right is better").click()
    expect(page.get_by_test_id("vote-done")).to_have_text("You have voted on every pair. Thank you.")
    page.get_by_role("link", name="See the results").click()

    expect(page.get_by_test_id("wins-b")).to_have_text("5")
    expect(page.get_by_test_id("wins-a")).to_have_text("0")
    expect(page.get_by_test_id("verdict")).to_have_text("Not decided yet: 15 more votes.")
    assert list(ComparisonVote.objects.values_list("choice", flat=True)) == ["b"] * 5
