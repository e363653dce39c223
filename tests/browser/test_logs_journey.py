"""An editor reads a product's logs, narrows them to the 👎 answers, opens one and corrects it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from products.models import FeedbackEvent, Generation
from products.services import product_create
from studio.roles import Role
from tests.products.logs_helpers import log

pytestmark = pytest.mark.browser

BETTER = "Dry feet on every trail, in any weather"


def test_editor_filters_the_logs_to_bad_answers_and_corrects_one(logged_in_page, live_server_url, make_team,
                                                                make_member):
    team = make_team("Acme")
    owner = team.memberships.get().user
    editor = make_member(team, Role.EDITOR).user
    product = product_create(team=team, user=owner, kind_id="copywriting",
                             template_id="ad-headlines", name="Headlines")
    bad = log(product, "Shoes shoes shoes", inputs={"product": "Trail shoes", "benefit": "dry feet"},
              channel="widget", feedback=-1)
    log(product, "Light shoes that run far", channel="api", feedback=1)

    page = logged_in_page(editor)
    page.goto(f"{live_server_url}/t/{team.slug}/products/{product.slug}/versions/")
    page.get_by_role("navigation", name="Product").get_by_role("link", name="Logs").click()
    table = page.get_by_test_id("log-table")
    expect(table).to_contain_text("Shoes shoes shoes")
    expect(table).to_contain_text("Light shoes that run far")
    expect(table).to_contain_text("Widget")

    page.get_by_label("Feedback").select_option(label="👎 bad")  # htmx swaps the table in place
    expect(table).not_to_contain_text("Light shoes that run far")
    expect(page).to_have_url(re.compile(r"feedback=down"))
    expect(table).to_contain_text("Shoes shoes shoes")

    table.get_by_role("link", name="Open").click()
    expect(page.get_by_role("heading", name=f"Answer {bad.pk}")).to_be_visible()
    expect(page.get_by_text("Trail shoes")).to_be_visible()
    page.get_by_label("What it should have said").fill(BETTER)
    page.get_by_role("button", name="Save correction").click()
    expect(page.get_by_text("Correction saved.")).to_be_visible()
    expect(page.get_by_test_id("correction")).to_have_text(BETTER)

    bad.refresh_from_db()
    assert bad.correction == BETTER
    assert FeedbackEvent.objects.get(kind="correction").user == editor
    page.goto(f"{live_server_url}/t/{team.slug}/products/{product.slug}/logs/?feedback=corrected")
    expect(page.get_by_test_id("log-table")).to_contain_text(BETTER)
    assert Generation.objects.count() == 2
