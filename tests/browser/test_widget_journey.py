"""An admin copies the widget's script tag onto a customer's website; a visitor chats with it there.

(That a website outside the allow-list gets no button at all is in test_markdown_journey.py, without the model.)

The customer's website is a plain HTML page served on a second localhost port, a different origin
from the studio, with CSS that tries hard to break whatever it can reach.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import expect

from inference.protocol import ENGINE_UNAVAILABLE
from products.consumers import VISITOR_ERRORS
from products.embed.limits import VISITOR_LIMIT_MESSAGE
from products.embed.services import product_embed_update
from products.embed.tokens import feedback_token
from products.models import Generation
from products.services import (
    generation_create,
    generation_finish,
    product_draft_update,
    product_version_create,
    product_version_publish,
)
from tests.api.conftest import fresh_rate_limits, make_product  # noqa: F401 - fixtures (rate limits: autouse)
from tests.browser.conftest import FIRST_ANSWER_MS, wait_until_ready
from tests.live import studio_process

pytestmark = [pytest.mark.browser, pytest.mark.model]

HOSTILE_CSS = """
  * { color: #f0f !important; font-size: 30px !important; }
  div, section, form, button, textarea, p, span { display: none !important; }
  button { pointer-events: none !important; }
"""


class CustomerSite(ThreadingHTTPServer):
    """A static website on its own port: one page that carries the widget's script tag."""

    script_tag = ""

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def page(self) -> str:
        return (f"<!doctype html><html><head><title>Trail Shop</title><style>{HOSTILE_CSS}</style></head>"
                f"<body><h1>Trail Shop</h1><a href='/faq'>Our FAQ</a>{self.script_tag}</body></html>")


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = self.server.page().encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:  # keep the test output quiet
        pass


def _serve() -> Iterator[CustomerSite]:
    site = CustomerSite(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    yield site
    site.shutdown()
    site.server_close()


@pytest.fixture
def shop_site() -> Iterator[CustomerSite]:
    yield from _serve()


@pytest.fixture
def other_site() -> Iterator[CustomerSite]:
    yield from _serve()


@pytest.fixture
def studio_without_worker(transactional_db) -> Iterator[str]:
    """A second studio process on the test database with no inference worker: the engine is down.

    It keeps its own in-memory channel layer: on the shared Redis, the module's live studio (which runs
    a worker) would pick its requests up and answer them.
    """
    with studio_process(embedded_workers=False, REDIS_URL="") as url:
        yield url


@pytest.fixture
def chat_product(make_team, make_product):  # noqa: F811 - the imported fixture
    """A published social-post product: a visitor's message fills its one free-text input."""
    team = make_team("Trail Shop")
    return make_product(team, name="Shop helper", template_id="social-post", length=8)


def _reads(text: str) -> str:
    """Text as a reader sees it: answers are drawn as Markdown, whose paragraphs and breaks are not characters."""
    return " ".join(text.replace("**", "").split())


def _script_tag(live_server_url: str, product) -> str:
    return f'<script src="{live_server_url}/embed/{product.public_key}.js" async></script>'


def _visit_with_stored_conversation(page, origin: str, product, *, is_open: bool, messages: list[dict]) -> None:
    """Open the site as a visitor whose browser kept a conversation from an earlier visit (as widget.js stores it)."""
    page.goto(origin)
    _wait_for_widget(page)  # mounted: it saves its (empty) state then, which must not overwrite what is written here
    page.evaluate("([key, value]) => localStorage.setItem(key, value)", [
        f"ai-studio-widget:{product.public_key}", json.dumps({"open": is_open, "messages": messages}),
    ])
    page.reload()
    _wait_for_widget(page)


def _wait_for_widget(page) -> None:
    """Wait until widget.js has mounted the chat and listens (it sets data-ready), however slow the load."""
    wait_until_ready(page, "ai-studio-chat")


def _widget(page):
    """The widget's parts, found by role and name through its open shadow root, as assistive technology does."""
    return {
        "launcher": page.get_by_role("button", name="Open chat"),
        "panel": page.get_by_role("dialog", name="Shop helper chat"),
        "input": page.get_by_role("textbox", name="Your message"),
        "status": page.locator("ai-studio-chat .typing"),
    }


def test_admin_embeds_the_widget_and_a_visitor_chats_streams_and_rates_it(
    logged_in_page, live_server_url, chat_product, shop_site,
):
    team = chat_product.team
    owner = team.memberships.get().user
    page = logged_in_page(owner)

    # The Embed tab: one script tag to copy, the allow-list and limits, and the widget itself as a preview.
    page.goto(f"{live_server_url}/t/{team.slug}/products/{chat_product.slug}/embed/")
    _wait_for_widget(page)
    script_tag = page.get_by_label("Script tag").input_value()
    assert script_tag == _script_tag(live_server_url, chat_product)
    page.get_by_label("Allowed websites").fill(f"{shop_site.origin}/\n")
    page.get_by_label("Messages per visitor per hour").fill("5")
    page.get_by_role("button", name="Save embed settings").click()
    expect(page.get_by_text("Embed settings saved. The widget works on 1 website.")).to_be_visible()
    expect(page.get_by_label("Allowed websites")).to_have_value(shop_site.origin)

    _wait_for_widget(page)  # the page came back after saving
    preview = _widget(page)
    preview["launcher"].click()
    preview["input"].fill("Our summer sale")
    preview["input"].press("Enter")
    expect(page.get_by_role("button", name="Good answer")).to_be_visible(timeout=FIRST_ANSWER_MS)
    assert Generation.objects.get().channel == "widget"
    Generation.objects.all().delete()

    # The customer's website, on another origin, with the script tag pasted in.
    shop_site.script_tag = script_tag
    page.goto(shop_site.origin)
    _wait_for_widget(page)
    widget = _widget(page)
    expect(widget["launcher"]).to_be_visible()
    page.keyboard.press("Tab")  # the shop's own link
    page.keyboard.press("Tab")  # then the chat button
    expect(widget["launcher"]).to_be_focused()
    page.keyboard.press("Enter")
    expect(widget["panel"]).to_be_visible()
    expect(widget["input"]).to_be_focused()
    page.keyboard.type("Our new trail shoes keep feet dry")
    page.keyboard.press("Enter")

    good = page.get_by_role("button", name="Good answer")
    expect(good).to_be_visible(timeout=FIRST_ANSWER_MS)
    expect(page.get_by_role("button", name="Stop")).to_be_hidden()
    generation = Generation.objects.get()
    answer = page.locator("ai-studio-chat .assistant .text")
    assert generation.output.strip() and _reads(answer.text_content()) == _reads(generation.output)
    assert (generation.channel, generation.inputs["topic"]) == ("widget", "Our new trail shoes keep feet dry")
    # The widget keeps a random id of this visitor in the site's localStorage and sends it (never an address).
    visitor_key = f"ai-studio-visitor:{chat_product.public_key}"
    visitor_id = page.evaluate("(key) => localStorage.getItem(key)", visitor_key)
    assert len(visitor_id) == 32 and generation.visitor == visitor_id

    good.click()
    expect(good).to_have_attribute("aria-pressed", "true")
    expect(widget["status"]).to_have_text("Thanks for the feedback.")
    generation.refresh_from_db()
    assert generation.feedback == 1

    # The conversation survives a reload on this website, rating included.
    page.reload()
    _wait_for_widget(page)
    expect(widget["panel"]).to_be_visible()
    expect(page.get_by_text("Our new trail shoes keep feet dry")).to_be_visible()
    assert _reads(answer.text_content()) == _reads(generation.output)
    expect(page.get_by_role("button", name="Good answer")).to_have_attribute("aria-pressed", "true")
    assert page.evaluate("(key) => localStorage.getItem(key)", visitor_key) == visitor_id  # the same visitor
    widget["input"].focus()
    page.keyboard.press("Escape")
    expect(widget["panel"]).to_be_hidden()
    expect(widget["launcher"]).to_be_focused()

    # The shop's CSS reached none of the widget's parts.
    color = page.locator("ai-studio-chat .launcher").evaluate("(node) => getComputedStyle(node).color")
    assert color == "rgb(255, 255, 255)"


def test_visitor_stops_an_answer_hits_the_limit_and_sees_model_output_as_text(
    page, live_server_url, make_team, make_product, shop_site,  # noqa: F811 - the imported fixture
):
    team = make_team("Trail Shop")
    product = make_product(team, name="Shop helper", template_id="social-post", published=False)
    # A prompt the greedy model answers at length in prose (about 240 tokens), so there is time to press Stop
    # and the text compares as it reads (a numbered list is drawn as one, without its numbers). The template's
    # worked example (a two-sentence post) goes: rendered through this prompt it taught the model to stop
    # after two sentences, sometimes before the test could press Stop.
    product_draft_update(product=product, system_prompt=product.system_prompt,
                         prompt_template=("Write a long essay of ten paragraphs, in plain sentences without lists or "
                                          "headings: {topic}"),
                         settings={"creativity": 0, "length": 400, "variants": 1})
    product.kind_config = {**product.kind_config, "examples": []}
    product.save(update_fields=["kind_config"])
    owner = team.memberships.get().user
    product_version_publish(product=product, version=product_version_create(product=product, user=owner))
    product_embed_update(product=product, allowed_origins=[shop_site.origin], messages_per_visitor_hour=1,
                         messages_per_day=1000)
    shop_site.script_tag = _script_tag(live_server_url, product)
    # A conversation stored on this website earlier, whose answer happens to look like HTML.
    _visit_with_stored_conversation(page, shop_site.origin, product, is_open=True, messages=[
        {"role": "user", "text": "<b>Hi</b>"},
        {"role": "assistant", "text": '<img src=x onerror="window.pwned = 1">Bye', "status": "done"},
    ])
    widget = _widget(page)
    expect(page.get_by_text('<img src=x onerror="window.pwned = 1">Bye')).to_be_visible()
    expect(page.get_by_text("<b>Hi</b>")).to_be_visible()
    assert page.locator("ai-studio-chat img, ai-studio-chat b").count() == 0
    assert page.evaluate("window.pwned") is None

    widget["input"].fill("Write a long post about our shoes")
    widget["input"].press("Enter")
    answers = page.locator("ai-studio-chat .assistant .text")
    expect(answers).to_have_count(2)
    writing = answers.nth(1)
    expect(writing).not_to_be_empty(timeout=FIRST_ANSWER_MS)
    expect(widget["status"]).to_have_text("Shop helper is typing…")
    expect(page.get_by_role("log", name="Conversation")).to_have_attribute("aria-busy", "true")
    page.get_by_role("button", name="Stop").click()
    expect(page.get_by_text("Stopped.")).to_be_visible(timeout=30_000)
    expect(widget["input"]).to_be_focused()
    generation = Generation.objects.get()
    assert generation.finish_reason == "cancelled" and 0 < generation.tokens_out < 400
    assert _reads(writing.text_content()) == _reads(generation.output)

    widget["input"].fill("And another one")
    widget["input"].press("Enter")
    expect(page.get_by_role("alert")).to_have_text(VISITOR_LIMIT_MESSAGE.format(limit=1))
    assert Generation.objects.count() == 1


def test_when_the_engine_is_down_the_visitor_reads_so_in_plain_words_and_can_type_again(
    page, studio_without_worker, chat_product, shop_site,
):
    product_embed_update(product=chat_product, allowed_origins=[shop_site.origin], messages_per_visitor_hour=20,
                         messages_per_day=1000)
    shop_site.script_tag = _script_tag(studio_without_worker, chat_product)
    page.goto(shop_site.origin)
    _wait_for_widget(page)
    widget = _widget(page)
    widget["launcher"].click()
    widget["input"].fill("Do you ship to Norway?")
    widget["input"].press("Enter")
    expect(widget["status"]).to_have_text("Shop helper is typing…")
    expect(page.get_by_role("button", name="Stop")).to_be_visible()

    # Nobody takes the request: after the consumer's start timeout the visitor is told, in their words.
    expect(page.get_by_role("alert")).to_have_text(VISITOR_ERRORS["engine_unavailable"], timeout=30_000)
    expect(widget["status"]).to_have_text("")
    expect(page.get_by_role("button", name="Stop")).to_be_hidden()
    expect(page.get_by_role("button", name="Send")).to_be_visible()
    expect(widget["input"]).to_be_focused()
    expect(page.get_by_text("Do you ship to Norway?")).to_be_visible()
    expect(page.locator("ai-studio-chat .assistant")).to_have_count(0)  # no empty answer left behind
    generation = Generation.objects.get()
    assert (generation.channel, generation.status, generation.error) == ("widget", "failed", ENGINE_UNAVAILABLE)


def test_a_keyboard_only_visitor_reaches_every_control_rates_an_answer_and_closes_with_escape(
    page, studio_without_worker, chat_product, shop_site,
):
    """Everything by keyboard, on an answer kept from an earlier visit (so no model is needed here)."""
    product_embed_update(product=chat_product, allowed_origins=[shop_site.origin], messages_per_visitor_hour=20,
                         messages_per_day=1000)
    generation = generation_create(product=chat_product, version=chat_product.live_version, channel="widget",
                                   user=None, inputs={"topic": "Opening hours"})
    generation_finish(generation_id=generation.pk, output="We open at nine.", finish_reason="eos", tokens_in=5,
                      tokens_out=4, time_to_first_token_s=0.1, duration_s=0.2)
    shop_site.script_tag = _script_tag(studio_without_worker, chat_product)
    _visit_with_stored_conversation(page, shop_site.origin, chat_product, is_open=False, messages=[
        {"role": "user", "text": "Opening hours"},
        {"role": "assistant", "text": "We open at nine.", "status": "done", "generation": generation.pk,
         "token": feedback_token(public_key=chat_product.public_key, generation_id=generation.pk)},
    ])
    widget = _widget(page)
    page.keyboard.press("Tab")  # the shop's own link
    page.keyboard.press("Tab")
    expect(widget["launcher"]).to_be_focused()
    page.keyboard.press("Enter")
    expect(widget["panel"]).to_be_visible()
    expect(widget["input"]).to_be_focused()

    # Every control is reached by Tab, in reading order, and ends back on the launcher.
    page.locator("ai-studio-chat .clear").focus()
    chat = page.locator("ai-studio-chat")
    for control in (chat.locator(".close"), page.get_by_role("log", name="Conversation"),
                    page.get_by_role("button", name="Good answer"), page.get_by_role("button", name="Bad answer"),
                    widget["input"], page.get_by_role("button", name="Send"), chat.locator(".launcher")):
        page.keyboard.press("Tab")
        expect(control).to_be_focused()
    # The answer is in a polite live region, so screen readers read it without moving focus.
    expect(page.get_by_role("log", name="Conversation")).to_have_attribute("aria-live", "polite")

    bad = page.get_by_role("button", name="Bad answer")
    bad.focus()
    page.keyboard.press("Enter")
    expect(bad).to_have_attribute("aria-pressed", "true")
    expect(widget["status"]).to_have_text("Thanks for the feedback.")
    generation.refresh_from_db()
    assert generation.feedback == -1

    # Escape closes the chat from its launcher too, not only from inside the panel.
    chat.locator(".launcher").focus()
    page.keyboard.press("Escape")
    expect(widget["panel"]).to_be_hidden()
    expect(widget["launcher"]).to_be_focused()
