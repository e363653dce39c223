"""An editor writes two variants, stops one, watches the other finish, and rates it; "Recent results" follows live.

And the page never generates with unsaved draft settings: it says so, and Generate asks for a save first.
The live studio writes with a scripted runner (tests/browser/playground_runner.py), so stopping one variant
while the other still writes is not a race against the model's speed.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from products.models import Generation
from products.services import product_create, product_draft_update
from tests.browser.conftest import wait_until_ready

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def live_studio_env() -> dict[str, str]:
    return {"DJANGO_SETTINGS_MODULE": "tests.browser.playground_settings"}


@pytest.fixture
def playground(logged_in_page, live_server_url, make_team):
    """The playground of a product-description product (its draft saved with one variant), signed in as its owner."""
    team = make_team("Acme")
    owner = team.memberships.get().user
    product = product_create(team=team, user=owner, kind_id="copywriting", template_id="product-description")
    product_draft_update(
        product=product,
        system_prompt=product.system_prompt,
        prompt_template=product.prompt_template,
        settings={"creativity": 0, "length": 200, "variants": 1},
    )
    page = logged_in_page(owner)
    page.goto(f"{live_server_url}/t/{team.slug}/products/{product.slug}/")
    wait_until_ready(page, "#playground")  # playground.js listens: Generate streams, not a plain submit
    page.get_by_label("Product name").fill("Trail running shoes")
    page.get_by_label("Key features").fill("Waterproof\nWeighs 220 g")
    return page


def test_editor_stops_one_of_two_variants_sees_the_other_finish_and_recent_results_follow(playground):
    page = playground
    recent = page.locator("#recent-results")
    expect(recent).to_contain_text("Nothing generated yet.")

    page.get_by_label("Variants").select_option("2")
    page.get_by_role("button", name="Generate", exact=True).click()
    first, second = page.locator(".variant").nth(0), page.locator(".variant").nth(1)
    expect(second.get_by_test_id("variant-text")).to_contain_text("word0")
    second.get_by_role("button", name="Stop variant 2").click()

    expect(second.get_by_test_id("variant-meta")).to_contain_text("stopped by you")
    expect(first.get_by_test_id("variant-meta")).not_to_contain_text("finished")  # still writing
    expect(first.get_by_role("button", name="Stop variant 1")).to_be_visible()
    rows = recent.locator("tbody tr")
    expect(rows.filter(has_text="(cancelled)")).to_have_count(1)  # listed as soon as it ends…
    expect(rows.filter(has_text="Still writing…")).to_have_count(1)  # …while the other still writes

    expect(first.get_by_test_id("variant-meta")).to_contain_text("40 tokens · finished", timeout=30_000)
    expect(first.get_by_test_id("variant-text")).to_contain_text("word39")
    expect(page.get_by_role("button", name="Generate", exact=True)).to_be_enabled()
    expect(rows).to_have_count(2)
    expect(rows.filter(has_text="Still writing…")).to_have_count(0)
    finished_row = rows.filter(has_text="(eos)")
    expect(finished_row).to_contain_text("word0")

    first.get_by_role("button", name="Good result").click()
    expect(finished_row).to_contain_text("Good")
    expect(rows.filter(has_text="(cancelled)")).not_to_contain_text("Good")

    stopped, done = Generation.objects.order_by("variant")[1], Generation.objects.order_by("variant")[0]
    assert (done.finish_reason, done.tokens_out, done.feedback) == ("eos", 40, 1)
    assert stopped.finish_reason == "cancelled" and 0 < stopped.tokens_out < 40 and stopped.feedback == 0


def test_unsaved_draft_edits_are_named_and_never_used_until_saved(playground):
    page = playground
    state = page.locator("#draft-state")
    expect(state).to_have_text("Generate uses the saved draft settings.")

    page.get_by_label("Instructions").fill("Write like a pirate.")
    expect(state).to_contain_text("Draft settings have unsaved changes.")
    page.get_by_role("button", name="Generate", exact=True).click()
    expect(page.locator("#form-error")).to_contain_text("save the draft, or undo the changes, first")
    expect(page.locator(".variant")).to_have_count(0)
    assert not Generation.objects.exists()

    page.get_by_role("button", name="Undo changes").click()
    expect(page.get_by_label("Instructions")).not_to_have_value("Write like a pirate.")
    expect(state).to_have_text("Generate uses the saved draft settings.")

    page.get_by_label("Instructions").fill("Write like a pirate.")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Saved.")).to_be_visible()
    expect(state).to_have_text("Generate uses the saved draft settings.")
    page.get_by_role("button", name="Generate", exact=True).click()
    expect(page.get_by_test_id("variant-meta")).to_contain_text("finished", timeout=30_000)
    generation = Generation.objects.get()
    assert generation.product.system_prompt == "Write like a pirate."  # saved first, then generated with
