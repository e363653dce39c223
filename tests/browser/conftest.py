"""Real-browser fixtures: Playwright on Chromium, beside the live studio of tests/live.py."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from tests.conftest import PASSWORD

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.browser

# How long a page may take to load and say it is ready (its load event; a script's data-ready attribute)
# on a machine other work is loading. Not a budget anything is expected to use: the waits below return
# the moment the page is ready. Each action on a ready page keeps the 15 s default.
READY_TIMEOUT_MS = 180_000


# How long a real-model answer may take to start: the first of a module includes loading the model in
# the live studio, and llama.cpp's threads slow down sharply when other processes hold the cores.
# Within the suite's 300 s per-test timeout; the wait ends at the first token.
FIRST_ANSWER_MS = 200_000


def wait_until_ready(page, selector: str) -> None:
    """Wait until the element ``selector`` carries ``data-ready``, set by the page's script once it listens."""
    from playwright.sync_api import expect

    expect(page.locator(f"{selector}[data-ready]")).to_be_attached(timeout=READY_TIMEOUT_MS)


@pytest.fixture(autouse=True)
def _orm_beside_playwright(monkeypatch):
    """Playwright's sync API runs an event loop in the test thread; the ORM calls the tests make
    around it are ordinary blocking calls, which is what this flag permits (for this test only)."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


# Package scope, not session: Playwright's sync API keeps an event loop running in the test thread
# while it is open, and pytest-asyncio cannot run the async tests of later folders beside it.
@pytest.fixture(scope="package")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"Browser tests need Chromium at {CHROMIUM}: run `apt-get install chromium`.")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(15_000)
    context.set_default_navigation_timeout(READY_TIMEOUT_MS)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def logged_in_page(page, live_server_url) -> Callable:
    """``logged_in_page(user)`` logs the user in through the login form and returns the page."""

    def login(user, password: str = PASSWORD):
        return log_in(page, live_server_url, user, password)

    return login


def log_in(page, live_server_url: str, user, password: str = PASSWORD):
    """Log ``user`` in on ``page`` through the login form, as a person would; returns the page."""
    page.goto(f"{live_server_url}/accounts/login/")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
    return page


def product_from_gallery(page, live_server_url: str, team, template: str, name: str) -> str:
    """Make a product from the gallery's ``template`` card as a person would; returns the product page's URL."""
    import re

    page.goto(f"{live_server_url}/t/{team.slug}/products/new/")
    card = page.locator("form.template-card", has_text=template)
    card.get_by_label(f"Name for {template}").fill(name)
    card.get_by_role("button", name=f"Use “{template}”").click()
    page.wait_for_url(re.compile(rf"/t/{re.escape(team.slug)}/products/[\w-]+/$"))
    return page.url
