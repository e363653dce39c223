"""An editor fills a copywriting product's inputs, watches the text grow, then presses Stop all."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from products.models import Generation
from products.services import product_create, product_draft_update
from tests.browser.conftest import FIRST_ANSWER_MS, wait_until_ready

pytestmark = [pytest.mark.browser, pytest.mark.model]


def test_editor_generates_sees_text_grow_and_stops_it(logged_in_page, live_server_url, make_team):
    team = make_team("Acme")
    owner = team.memberships.get().user
    product = product_create(team=team, user=owner, kind_id="copywriting", template_id="product-description")
    product_draft_update(product=product, system_prompt=product.system_prompt,
                         prompt_template=product.prompt_template,
                         settings={"creativity": 0, "length": 400, "variants": 1})
    page = logged_in_page(owner)
    page.goto(f"{live_server_url}/t/{team.slug}/products/{product.slug}/")
    wait_until_ready(page, "#playground")  # playground.js listens: Generate streams, not a plain submit

    page.get_by_label("Product name").fill("Trail running shoes")
    page.get_by_label("Key features").fill("Waterproof\nWeighs 220 g\nRecycled sole")
    page.get_by_role("button", name="Generate").click()

    text = page.get_by_test_id("variant-text")
    expect(text).not_to_be_empty(timeout=FIRST_ANSWER_MS)
    first = text.text_content()
    expect(text).not_to_have_text(first, timeout=30_000)  # it keeps growing while the model writes
    page.get_by_role("button", name="Stop all").click()
    expect(page.get_by_text("stopped", exact=False)).to_be_visible(timeout=30_000)
    expect(page.get_by_role("button", name="Generate")).to_be_enabled()

    generation = Generation.objects.get()
    assert generation.finish_reason == "cancelled"
    assert generation.output.strip() and generation.output.strip() in text.text_content()
    assert 0 < generation.tokens_out < 400

    page.get_by_role("button", name="Good result").click()
    expect(page.get_by_role("button", name="Good result")).to_have_attribute("aria-pressed", "true")
    generation.refresh_from_db()
    assert generation.feedback == 1


def test_missing_input_is_named_next_to_the_field(logged_in_page, live_server_url, make_team):
    team = make_team("Acme")
    owner = team.memberships.get().user
    product = product_create(team=team, user=owner, kind_id="copywriting", template_id="ad-headlines")
    page = logged_in_page(owner)
    page.goto(f"{live_server_url}/t/{team.slug}/products/{product.slug}/")
    wait_until_ready(page, "#playground")  # playground.js listens: Generate streams, not a plain submit
    page.get_by_role("button", name="Generate").click()
    expect(page.get_by_text("Product name is required.")).to_be_visible()
    expect(page.get_by_text("Main benefit is required.")).to_be_visible()
    assert not Generation.objects.exists()
