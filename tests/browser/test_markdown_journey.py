"""Model text reads as text: Markdown drawn safely, the same in the playground and the widget, while it streams;
and the widget draws no button on a website that is not allowed.

The live studio writes with a scripted runner (tests/browser/markdown_runner.py) that streams Markdown
with a `**` split across frames, a web link, a javascript: link and raw HTML, so no model is needed.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from products.embed.services import product_embed_update, product_widget_update
from products.models import Generation
from products.services import product_version_create, product_version_publish
from tests.api.conftest import fresh_rate_limits, make_product  # noqa: F401 - fixtures (rate limits: autouse)
from tests.browser.conftest import READY_TIMEOUT_MS, wait_until_ready
from tests.browser.markdown_text import READS
from tests.browser.test_widget_journey import _script_tag, _wait_for_widget, other_site, shop_site  # noqa: F401

pytestmark = pytest.mark.browser

# Records every text the answer's node shows while it streams, to find a marker that flashed.
WATCH = """(selector) => {
  window.seen = [];
  new MutationObserver(() => {
    const node = document.querySelector(selector)
      || document.querySelector("ai-studio-chat")?.shadowRoot?.querySelector(selector);
    if (node) window.seen.push(node.textContent);
  }).observe(document.querySelector("ai-studio-chat")?.shadowRoot || document.body,
             { subtree: true, childList: true, characterData: true });
}"""


@pytest.fixture(scope="module")
def live_studio_env() -> dict[str, str]:
    return {"DJANGO_SETTINGS_MODULE": "tests.browser.markdown_settings"}


@pytest.fixture
def shop_product(make_team, make_product):  # noqa: F811 - the imported fixture
    """A published social-post product with a greeting: a visitor's message fills “What to announce”."""
    team = make_team("Trail Shop")
    product = make_product(team, name="Shop helper", template_id="social-post", published=False)
    product_widget_update(product=product, defaults={}, greeting="Hello! What shall we announce?")
    product_version_publish(product=product, version=product_version_create(
        product=product, user=team.memberships.get().user))
    product.refresh_from_db()
    return product


def _reads(locator) -> str:
    return " ".join(locator.text_content().split())


def _assert_drawn_safely(page, scope: str, text) -> None:
    """The finished answer in ``text``: bold and a list, one safe link, the rest inert text."""
    expect(text.locator("strong")).to_have_text("We're thrilled")
    expect(text.locator("em")).to_have_text("Trail")
    expect(text.locator("li")).to_have_text(["Dry feet", "Light"])
    link = text.locator("a")
    expect(link).to_have_count(1)
    expect(link).to_have_attribute("href", "https://shop.example/trail")
    expect(link).to_have_attribute("rel", "noopener nofollow")
    assert _reads(text) == " ".join(READS.split())
    assert page.locator(f"{scope} img, {scope} b, {scope} a[href^='javascript']").count() == 0
    assert page.evaluate("window.pwned") is None
    seen = page.evaluate("window.seen")
    assert len(set(seen)) >= 5, "the answer was drawn as it streamed"
    assert not [shown for shown in seen if "*" in shown], "no Markdown marker ever showed"


def test_a_visitor_on_an_allowed_website_reads_the_answer_as_formatted_text(
    page, live_server_url, shop_product, shop_site,  # noqa: F811 - the imported fixture
):
    product_embed_update(product=shop_product, allowed_origins=[shop_site.origin], messages_per_visitor_hour=20,
                         messages_per_day=1000)
    shop_site.script_tag = _script_tag(live_server_url, shop_product)
    with page.expect_response(lambda response: "/allowed/" in response.url) as checked:
        page.goto(shop_site.origin)
    assert checked.value.json() == {"allowed": True}
    _wait_for_widget(page)
    page.get_by_role("button", name="Open chat").click()
    expect(page.get_by_text("Hello! What shall we announce?")).to_be_visible()
    page.evaluate(WATCH, ".assistant:not(.greeting) .text")
    page.get_by_role("textbox", name="Your message").fill("Our trail shoes launch")
    page.get_by_role("textbox", name="Your message").press("Enter")

    expect(page.get_by_role("button", name="Good answer")).to_be_visible(timeout=READY_TIMEOUT_MS)
    _assert_drawn_safely(page, "ai-studio-chat", page.locator("ai-studio-chat .assistant:not(.greeting) .text"))
    assert Generation.objects.get().channel == "widget"


def test_on_a_website_that_is_not_allowed_no_button_appears(
    page, live_server_url, shop_product, shop_site, other_site,  # noqa: F811 - the imported fixtures
):
    product_embed_update(product=shop_product, allowed_origins=[shop_site.origin], messages_per_visitor_hour=20,
                         messages_per_day=1000)
    other_site.script_tag = _script_tag(live_server_url, shop_product)
    sockets: list[str] = []
    page.on("websocket", lambda socket: sockets.append(socket.url))
    with page.expect_response(lambda response: "/allowed/" in response.url) as checked:
        page.goto(other_site.origin)
    assert checked.value.json() == {"allowed": False}
    page.wait_for_load_state("networkidle")
    page.evaluate("() => new Promise((resolve) => setTimeout(resolve, 100))")  # the widget read its answer
    expect(page.get_by_role("heading", name="Trail Shop")).to_be_visible()  # the shop's own page is there
    assert page.locator("ai-studio-chat").count() == 0
    expect(page.get_by_role("button", name="Open chat")).to_have_count(0)
    assert sockets == [] and not Generation.objects.exists()


def test_the_playground_draws_the_same_markdown_as_it_streams(logged_in_page, live_server_url, shop_product):
    team = shop_product.team
    page = logged_in_page(team.memberships.get().user)
    page.goto(f"{live_server_url}/t/{team.slug}/products/{shop_product.slug}/")
    wait_until_ready(page, "#playground")
    page.evaluate(WATCH, "[data-testid='variant-text']")
    page.get_by_label("What to announce").fill("Our trail shoes launch")
    page.get_by_role("button", name="Generate").click()

    expect(page.get_by_role("button", name="Good result")).to_be_enabled(timeout=READY_TIMEOUT_MS)  # done
    _assert_drawn_safely(page, "#outputs", page.get_by_test_id("variant-text"))


# Model text that tries to run script or load something, as Markdown and as raw HTML.
XSS_CORPUS = [
    "<script>window.pwned = 1</script>",
    '<img src=x onerror="window.pwned = 1">',
    '**<svg onload="window.pwned = 1">**',
    "<a href=\"javascript:window.pwned = 1\">click</a>",
    "[click](javascript:window.pwned=1)",
    "[click](JaVaScRiPt:window.pwned=1)",
    "[click](  javascript:window.pwned=1  )",
    "[click](&#106;avascript:window.pwned=1)",
    "[click](java%0ascript:window.pwned=1)",
    "[click](vbscript:msgbox(1))",
    "[click](data:text/html;base64,PHNjcmlwdD53aW5kb3cucHduZWQ9MTwvc2NyaXB0Pg==)",
    '[click](https://shop.example" onclick="window.pwned=1)',
    "[click][evil]\n\n[evil]: javascript:window.pwned=1",
    "<javascript:window.pwned=1>",
    '![x](https://shop.example/x.png" onerror="window.pwned=1)',
    "<iframe srcdoc=\"<script>parent.pwned=1</script>\"></iframe>",
    "- <details open ontoggle=\"window.pwned=1\">\n- *<style>body{display:none}</style>*",
]
ALLOWED_TAGS = {"P", "BR", "STRONG", "EM", "UL", "OL", "LI", "A"}


def test_the_xss_corpus_drawn_as_markdown_runs_nothing_and_links_only_to_the_web(
    logged_in_page, live_server_url, shop_product,
):
    team = shop_product.team
    page = logged_in_page(team.memberships.get().user)
    page.goto(f"{live_server_url}/t/{team.slug}/products/{shop_product.slug}/")
    wait_until_ready(page, "#playground")
    drawn = page.evaluate("""(corpus) => corpus.map((text) => {
      const node = document.createElement("div");
      document.body.append(node);
      // Every prefix as it would stream, then the whole text as the final result.
      for (let end = 1; end <= text.length; end += 1) studioRenderers.text.token(node, text.slice(end - 1, end));
      studioRenderers.text.done(node, { text });
      return {
        tags: [...node.querySelectorAll("*")].map((el) => el.tagName),
        attributes: [...node.querySelectorAll("*")].flatMap((el) => el.getAttributeNames()),
        hrefs: [...node.querySelectorAll("a")].map((a) => a.getAttribute("href")),
        text: node.textContent,
      };
    })""", XSS_CORPUS)
    page.evaluate("() => new Promise((resolve) => setTimeout(resolve, 200))")  # an onerror would have fired
    assert page.evaluate("window.pwned") is None
    for text, result in zip(XSS_CORPUS, drawn, strict=True):
        assert set(result["tags"]) <= ALLOWED_TAGS, text
        assert set(result["attributes"]) <= {"href", "rel", "target"}, text
        assert all(href.startswith("https://") for href in result["hrefs"]), text
    assert "<script>window.pwned = 1</script>" in drawn[0]["text"]  # raw HTML is shown as the text it is
