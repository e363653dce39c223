"""A phone and a keyboard: at 390 px nothing scrolls the page sideways (tabs and tables scroll inside their box),
the main menu leads to API keys and Training runs, and the playground works with the keyboard alone.

One live studio for the module, with the scripted writer of the Markdown journey (no model needed).
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from products.services import product_create
from tests.browser.conftest import READY_TIMEOUT_MS, wait_until_ready
from tests.browser.markdown_text import READS
from tests.products.logs_helpers import log

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
# A word longer than the screen, as a pasted link or a product code would be.
LONG_WORD = "Waterproof-breathable-recycled-trail-running-shoe-with-a-very-long-name-" * 2


@pytest.fixture(scope="module")
def live_studio_env() -> dict[str, str]:
    return {"DJANGO_SETTINGS_MODULE": "tests.browser.markdown_settings"}


@pytest.fixture
def shop(make_team):
    team = make_team("Trail Shop")
    owner = team.memberships.get().user
    product = product_create(team=team, user=owner, kind_id="copywriting", template_id="product-description")
    for n in range(3):  # Recent results on the playground, one of them with a word wider than a phone
        log(product, f"{LONG_WORD} {n}", inputs={"product": LONG_WORD}, feedback=1 if n else -1)
    return team, owner, product


UNLABELLED = """() => [...document.querySelectorAll("input:not([type=hidden]), select, textarea")]
  .filter((n) => !n.labels?.length && !n.getAttribute("aria-label") && !n.getAttribute("aria-labelledby"))
  .map((n) => n.name || n.id)"""


def _scrolls_sideways(page) -> int:
    """How many pixels the page is wider than the window (0: it never scrolls sideways)."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def test_on_a_phone_no_page_scrolls_sideways_and_the_menu_leads_to_keys_and_runs(browser, live_server_url, shop):
    from tests.browser.conftest import log_in

    team, owner, product = shop
    # Not is_mobile: a mobile viewport widens itself to fit what overflows, which would hide the very fault.
    context = browser.new_context(viewport=PHONE, has_touch=True)
    context.set_default_navigation_timeout(READY_TIMEOUT_MS)
    page = log_in(context.new_page(), live_server_url, owner)
    try:
        base = f"{live_server_url}/t/{team.slug}"
        sideways, header, unlabelled = {}, {}, {}
        pages = (
            "/",
            f"/products/{product.slug}/",
            f"/products/{product.slug}/embed/",
            f"/products/{product.slug}/logs/",
            "/datasets/upload/",
            "/training/",
        )
        for path in pages:
            page.goto(base + path)
            assert page.evaluate("window.innerWidth") == PHONE["width"]
            sideways[path] = _scrolls_sideways(page)
            header[path] = page.locator("header.topbar").bounding_box()["height"]
            unlabelled[path] = page.evaluate(UNLABELLED)
        assert sideways == dict.fromkeys(sideways, 0), "pixels each page scrolls sideways at 390 px"
        # Compact: the logo and the account on one line, the menu on one scrolling line (not a fifth of the screen).
        assert max(header.values()) <= PHONE["height"] / 8, f"the header's height on each page: {header}"
        assert unlabelled == dict.fromkeys(pages, []), "inputs without a label, by page"

        # The product's tabs scroll inside their bar: the last one is reachable, not cut off.
        page.goto(f"{base}/products/{product.slug}/embed/")
        tabs = page.get_by_role("navigation", name="Product")
        assert tabs.evaluate("n => n.scrollWidth > n.clientWidth && getComputedStyle(n).overflowX === 'auto'")
        last = tabs.get_by_role("link", name="Fine-tune")
        last.scroll_into_view_if_needed()
        expect(last).to_be_in_viewport()

        # The brand keeps its name for screen readers while only its logo shows.
        expect(page.get_by_role("link", name="AI Product Studio")).to_be_visible()
        # The menu names API keys and Training runs, and they open.
        menu = page.get_by_role("navigation", name="Main")
        menu.get_by_role("link", name="Training runs").click()
        expect(page.get_by_role("heading", name="Training runs", level=1)).to_be_visible()
        assert _scrolls_sideways(page) <= 0
        page.get_by_role("navigation", name="Main").get_by_role("link", name="API keys").click()
        expect(page.get_by_role("heading", name="API keys", level=1)).to_be_visible()

        # The thumbs of Recent results are drawn as SVG, readable without an emoji font.
        page.goto(f"{base}/products/{product.slug}/")
        rated = page.locator("td svg.icon-thumb-up")
        expect(rated).to_have_count(2)
        assert "👍" not in page.locator("main").inner_text() and "👎" not in page.locator("main").inner_text()
    finally:
        context.close()


def test_the_playground_works_with_the_keyboard_alone(logged_in_page, live_server_url, shop):
    team, owner, product = shop
    page = logged_in_page(owner)
    page.goto(f"{live_server_url}/t/{team.slug}/products/{product.slug}/")
    wait_until_ready(page, "#playground")

    # From the top of the page, Tab until the first input has the focus, as a keyboard user would.
    page.locator("body").focus()
    page.keyboard.press("Tab")  # the first stop skips the menu
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    name = page.get_by_label("Product name")
    for _ in range(40):
        page.keyboard.press("Tab")
        if name.evaluate("n => n === document.activeElement"):
            break
    expect(name).to_be_focused()
    # The focused control is visibly marked (an outline the site's CSS draws).
    ring = name.evaluate("n => { const s = getComputedStyle(n); return [s.outlineStyle, s.outlineColor]; }")
    assert ring == ["solid", "rgb(91, 76, 219)"], "a solid ring in the brand colour (3:1 or more against white)"
    page.keyboard.type("Trail running shoes")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Key features")).to_be_focused()
    page.keyboard.type("Waterproof")

    generate = page.get_by_role("button", name="Generate")
    for _ in range(20):
        if generate.evaluate("n => n === document.activeElement"):
            break
        page.keyboard.press("Tab")
    expect(generate).to_be_focused()
    page.keyboard.press("Enter")

    # The text arrives in a live region, so a screen reader reads it as it is written.
    outputs = page.locator("#outputs")
    expect(outputs).to_have_attribute("aria-live", "polite")
    text = page.get_by_test_id("variant-text")
    expect(text).to_have_text(" ".join(READS.split()), timeout=60_000)
    expect(generate).to_be_enabled(timeout=30_000)

    # Rate it by keyboard: focus the thumb and press Space.
    good = page.get_by_role("button", name="Good result")
    for _ in range(20):
        if good.evaluate("n => n === document.activeElement"):
            break
        page.keyboard.press("Tab")
    expect(good).to_be_focused()
    page.keyboard.press("Space")
    expect(good).to_have_attribute("aria-pressed", "true")
