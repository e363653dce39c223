"""An editor makes a Store FAQ bot from the gallery on the shipped FAQ, waits for it to read the FAQ, and chats;
a visitor asks the same kind of assistant through the widget on a second localhost port.

The live studio answers with the scripted answer runner (tests/browser/qa_runner.py): the real one is the
worker half's. The index is put in its states by the test, as the index worker would (tests/knowledge.py):
it is marked as being read before the product is made, so no real index worker in the studio takes it.
"""

from __future__ import annotations

import csv

import pytest
from playwright.sync_api import expect

from inference.models import KnowledgeIndex
from products.datasets.seed import SAMPLES_DIR
from products.embed.services import product_embed_update
from products.knowledge.services import knowledge_index_request
from products.models import Generation, Product
from products.services import product_create, product_version_create, product_version_publish
from tests.api.conftest import fresh_rate_limits  # noqa: F401 - autouse: each test starts with no counted messages
from tests.browser.conftest import READY_TIMEOUT_MS, wait_until_ready
from tests.browser.test_widget_journey import _script_tag, _wait_for_widget, shop_site  # noqa: F401 - a fixture
from tests.knowledge import faq_version, index_building, index_ready

pytestmark = pytest.mark.browser

# Records, in the page, which came first: the sources list or the answer's first character.
WATCH_ORDER = """() => {
  window.answerOrder = [];
  window.answerSeen = new Set();
  new MutationObserver(() => {
    const last = [...document.querySelectorAll("#outputs .variant")].pop();
    if (!last) return;
    const mark = (name, present) => {
      if (present && !window.answerSeen.has(name)) { window.answerSeen.add(name); window.answerOrder.push(name); }
    };
    mark("sources", last.querySelector(".answer-source"));
    mark("text", (last.querySelector(".answer-text")?.textContent || "").length > 0);
  }).observe(document.getElementById("outputs"), { subtree: true, childList: true, characterData: true });
}"""


@pytest.fixture(scope="module")
def live_studio_env() -> dict[str, str]:
    return {"DJANGO_SETTINGS_MODULE": "tests.browser.qa_settings"}


def _ask(page, question: str) -> None:
    page.evaluate("() => { window.answerOrder = []; window.answerSeen = new Set(); }")
    page.get_by_label("Question").fill(question)
    page.get_by_role("button", name="Ask").click()


def test_create_from_the_gallery_wait_for_the_faq_then_ask_follow_up_and_off_topic(
    logged_in_page, live_server_url, make_team
):
    team = make_team("Shop")
    owner = team.memberships.get().user
    faq = faq_version(team, owner)
    index = index_building(knowledge_index_request(dataset_version=faq), done=12, total=30)
    page = logged_in_page(owner)

    page.goto(f"{live_server_url}/t/{team.slug}/products/new/")
    card = page.locator("form.template-card", has_text="Store FAQ bot")
    expect(card.get_by_label("Knowledge base")).to_have_value(str(faq.pk))  # the FAQ is offered first
    card.get_by_label("Name for Store FAQ bot").fill("Shop helper")
    card.get_by_role("button", name="Use “Store FAQ bot”").click()
    page.wait_for_url(f"{live_server_url}/t/{team.slug}/products/shop-helper/")
    product = Product.objects.get(team=team)
    assert product.knowledge_version == faq and KnowledgeIndex.objects.get().pk == index.pk

    status = page.get_by_test_id("index-status")
    expect(status).to_have_text("Reading your documents: 40 %")
    with (SAMPLES_DIR / "store_faq.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    index_ready(index, [(row["question"], row["answer"]) for row in rows])
    expect(status).to_have_text("Ready: 30 passages", timeout=READY_TIMEOUT_MS)  # the 2 s poll saw it

    wait_until_ready(page, "#playground")
    page.evaluate(WATCH_ORDER)
    _ask(page, "How much does shipping cost?")
    answers = page.get_by_test_id("variant-text")
    expect(answers.nth(0).locator(".answer-text")).to_have_text("Standard delivery costs 4.95 €, free over 50 € [1].")
    assert page.evaluate("() => window.answerOrder") == ["sources", "text"]
    first = answers.nth(0)
    expect(first.locator(".answer-source")).to_have_count(2)
    expect(first.locator(".answer-source.cited")).to_have_count(1)
    expect(first.locator(".answer-source.cited")).to_contain_text("How much does shipping cost?")
    first.locator(".answer-source.cited summary").click()
    expect(first.locator(".answer-source.cited blockquote")).to_contain_text("standard delivery costs 4.95 €")
    expect(page.get_by_role("button", name="Ask")).to_be_enabled()

    _ask(page, "and how much is express?")
    expect(answers.nth(1).locator(".answer-text")).to_have_text(
        "Express delivery costs 9.95 € [1]. (Following up on: How much does shipping cost?)")
    assert page.evaluate("() => window.answerOrder") == ["sources", "text"]
    expect(page.get_by_test_id("chat-question")).to_have_count(2)

    _ask(page, "Do you sell parrots?")
    third = answers.nth(2)
    expect(third.locator(".answer-text")).to_have_text("Sorry, I don't know that from our shop's FAQ.")
    expect(third.locator(".answer-note")).to_have_text("Not found in your documents — best match 0.21, needs 0.35")
    expect(third.locator(".answer-source.cited")).to_have_count(0)

    logged = list(Generation.objects.filter(product=product).order_by("pk"))
    assert [g.inputs["question"] for g in logged] == [
        "How much does shipping cost?", "and how much is express?", "Do you sell parrots?"]
    assert [g.result["abstained"] for g in logged] == [False, False, True]
    assert logged[0].result["citations"][0]["n"] == 1


def test_a_visitor_asks_the_widget_sees_sources_and_a_follow_up_after_a_reload_keeps_the_conversation(
    page, live_server_url, make_team, shop_site,  # noqa: F811 - the imported fixture
):
    team = make_team("Trail Shop")
    owner = team.memberships.get().user
    faq = faq_version(team, owner)
    product = product_create(team=team, user=owner, kind_id="qa", template_id="store-faq", name="Shop helper",
                             knowledge_version=faq)
    index_ready(KnowledgeIndex.objects.get(dataset_version=faq), [("Shipping", "4.95 €")])
    product_version_publish(product=product, version=product_version_create(product=product, user=owner))
    product = product_embed_update(product=product, allowed_origins=[shop_site.origin], messages_per_visitor_hour=20,
                                   messages_per_day=100)
    shop_site.script_tag = _script_tag(live_server_url, product)

    page.goto(shop_site.origin)
    _wait_for_widget(page)
    page.get_by_role("button", name="Open chat").click()
    page.get_by_role("textbox", name="Your message").fill("How much does shipping cost?")
    page.get_by_role("button", name="Send").click()
    answer = page.locator("ai-studio-chat .msg.assistant").nth(0)
    expect(answer.locator(".answer-text")).to_have_text("Standard delivery costs 4.95 €, free over 50 € [1].")
    expect(answer.locator(".answer-source")).to_have_count(2)
    expect(answer.locator(".answer-source.cited")).to_contain_text("How much does shipping cost?")
    expect(answer.locator(".answer-note")).to_be_hidden()  # the studio's scores are not for visitors

    page.reload()  # the conversation, its sources included, is kept in this website's storage
    _wait_for_widget(page)
    kept = page.locator("ai-studio-chat .msg.assistant").nth(0)
    expect(kept.locator(".answer-source.cited")).to_contain_text("How much does shipping cost?")
    page.get_by_role("textbox", name="Your message").fill("and how much is express?")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("ai-studio-chat .msg.assistant").nth(1).locator(".answer-text")).to_have_text(
        "Express delivery costs 9.95 € [1]. (Following up on: How much does shipping cost?)")

    page.get_by_role("textbox", name="Your message").fill("Do you sell parrots?")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("ai-studio-chat .msg.assistant").nth(2).locator(".answer-text")).to_have_text(
        "Sorry, I don't know that from our shop's FAQ.")
    assert list(Generation.objects.values_list("channel", flat=True)) == ["widget"] * 3
