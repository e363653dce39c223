"""An editor reads what version 2 changed in the prompt, rolls back, and resets the draft to the live version."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from products.services import product_create, product_draft_update, product_version_create, product_version_publish

pytestmark = pytest.mark.browser


def test_an_editor_reads_the_prompt_diff_rolls_back_and_loads_the_live_version_into_the_draft(
    live_server_url,
    logged_in_page,
    make_team,
):
    team = make_team("Shop")
    owner = team.memberships.get().user
    product = product_create(team=team, user=owner, kind_id="copywriting", template_id="ad-headlines", name="Ads")

    def save(system_prompt: str, prompt: str, note: str):
        product_draft_update(
            product=product, system_prompt=system_prompt, prompt_template=prompt, settings=product.settings
        )
        return product_version_create(product=product, user=owner, note=note)

    save("Write short headlines.", "Product: {product}\nAudience: everyone", "plain")
    product_version_publish(
        product=product,
        version=save(
            "Write short headlines.\nNever use hashtags.", "Product: {product}\nAudience: busy parents", "for parents"
        ),
    )
    page = logged_in_page(owner)

    page.goto(f"{live_server_url}/t/{team.slug}/products/{product.slug}/versions/")
    page.get_by_role("link", name="Settings and prompt diff of version 2").click()
    expect(page.get_by_role("heading", name="Version 2", exact=True)).to_be_visible()
    prompt_diff = page.get_by_test_id("diff-prompt")
    expect(prompt_diff.locator("tr.diff-removed .diff-text")).to_have_text(["Audience: everyone"])
    expect(prompt_diff.locator("tr.diff-added .diff-text")).to_have_text(["Audience: busy parents"])
    expect(prompt_diff.locator("tr.diff-removed .diff-sign")).to_have_text("−removed")  # a sign, not colour alone
    expect(prompt_diff.locator("tr.diff-same .diff-text")).to_have_text(["Product: {product}"])
    instructions = page.get_by_test_id("diff-instructions-system-prompt")
    expect(instructions.locator("ins")).to_have_text("Never use hashtags.")
    expect(page.get_by_text("1 line added, 0 removed since version 1.")).to_be_visible()

    # Version 2 goes badly: roll back to 1. The draft still has version 2's texts, so the tab offers a reset.
    page.get_by_role("link", name="All versions").click()
    page.get_by_role("button", name="Roll back to version 1").click()
    expect(page.get_by_text("Rolled back: version 1 is live again.")).to_be_visible()
    page.get_by_role("button", name="Reset the draft to version 1").click()
    expect(page.get_by_text("The draft now has version 1's settings.")).to_be_visible()
    expect(page.get_by_label("Instructions")).to_have_value("Write short headlines.")
    expect(page.get_by_label("Prompt", exact=True)).to_have_value("Product: {product}\nAudience: everyone")

    # Version 2's page loads it back into the draft, too.
    page.goto(f"{live_server_url}/t/{team.slug}/products/{product.slug}/versions/2/")
    page.get_by_role("button", name="Load this version into the draft").click()
    expect(page.get_by_label("Instructions")).to_have_value("Write short headlines.\nNever use hashtags.")
    product.refresh_from_db()
    assert product.prompt_template == "Product: {product}\nAudience: busy parents"
    assert product.live_version.number == 1
