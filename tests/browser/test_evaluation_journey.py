"""An editor evaluates a Store FAQ bot on test questions from the Evaluation tab and takes the suggested threshold.

The live studio's own embedded workers do the work: its index worker reads the shipped FAQ and its evaluation
worker searches every test question with the real MiniLM (retrieval only: no language model runs). The page
follows the job through its htmx poll, then the person reads the recall figures and clicks “Use this threshold”.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from inference.models import KnowledgeEvaluation
from products.models import Product
from products.services import product_create
from tests.browser.conftest import READY_TIMEOUT_MS
from tests.inference.knowledge import store_faq_tests_version, store_faq_version

pytestmark = pytest.mark.browser


def test_evaluate_an_assistant_on_test_questions_read_its_recall_and_use_the_suggested_threshold(
    logged_in_page, live_server_url, make_team
):
    team = make_team("Shop")
    owner = team.memberships.get().user
    product = product_create(team=team, user=owner, kind_id="qa", template_id="store-faq", name="Shop helper",
                             knowledge_version=store_faq_version(team, owner))  # queues its reading
    tests = store_faq_tests_version(team, owner)
    page = logged_in_page(owner)

    page.goto(f"{live_server_url}/t/{team.slug}/products/{product.slug}/")
    page.get_by_role("link", name="Evaluation").click()
    expect(page.get_by_test_id("index-status")).to_have_text("Ready: 30 passages", timeout=READY_TIMEOUT_MS)
    page.reload()
    page.get_by_label("Test questions", exact=True).select_option(str(tests.pk))
    page.get_by_role("button", name="Evaluate").click()

    # The report polls every 2 s until the studio's evaluation worker is done.
    expect(page.get_by_test_id("recall-1")).to_have_text("90 %", timeout=READY_TIMEOUT_MS)
    expect(page.get_by_test_id("recall-3")).to_have_text("90 %")
    expect(page.get_by_test_id("recall-5")).to_have_text("90 %")
    expect(page.get_by_test_id("answered-unanswerable")).to_have_text("0 %")
    expect(page.get_by_test_id("miss")).to_have_count(1)
    expect(page.get_by_test_id("miss")).to_contain_text("Do you sell electric bicycles?")
    suggested = KnowledgeEvaluation.objects.get().suggested_threshold
    expect(page.get_by_test_id("suggested-threshold")).to_have_text(str(suggested))

    page.get_by_role("button", name="Use this threshold").click()
    expect(page.locator(".flash")).to_contain_text(f"“How sure before answering” is now {suggested:.3g} on the draft.")
    assert Product.objects.get(pk=product.pk).kind_config["threshold"] == suggested
