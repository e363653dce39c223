"""The studio's pages work under their Content-Security-Policy, and the widget under a site's strict one.

Chromium reports every blocked script, style, connection or frame on the console ("Refused to ...
because it violates the following Content Security Policy directive"); these tests listen and
expect none, while the pages do what people use them for.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import expect

from studio.roles import Role
from tests.api.conftest import fresh_rate_limits, make_product  # noqa: F401 - fixtures (rate limits: autouse)

pytestmark = pytest.mark.browser


def _violations(page) -> list[str]:
    """Console messages about the policy (and page errors), collected as the page runs."""
    seen: list[str] = []
    page.on("console", lambda m: seen.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda error: seen.append(f"page error: {error}"))
    return seen


def test_studio_pages_docs_and_admin_work_under_their_policies(
    logged_in_page, live_server_url, make_team, make_member, make_product,  # noqa: F811 - the imported fixture
):
    team = make_team("Trail Shop")
    editor = make_member(team, Role.EDITOR)
    product = make_product(team, name="Shop helper", template_id="social-post", length=8)
    page = logged_in_page(team.memberships.get(role=Role.OWNER).user)
    violations = _violations(page)
    base = f"{live_server_url}/t/{team.slug}"

    page.goto(f"{base}/members/")
    page.get_by_label(f"Role of {editor.user.email}").select_option("admin")  # sends itself (app.js)
    expect(page.get_by_text(f"{editor.user.email} is now Admin.")).to_be_visible()
    page.goto(f"{base}/audit/")
    expect(page.get_by_role("cell", name="Changed a member's role")).to_be_visible()

    page.goto(f"{base}/datasets/upload/")
    expect(page.get_by_role("button", name="Upload and check")).to_be_visible()
    page.goto(f"{base}/products/{product.slug}/")
    expect(page.get_by_role("heading", name="Shop helper")).to_be_visible()
    page.goto(f"{base}/products/{product.slug}/embed/")
    page.get_by_role("button", name="Open chat").click()  # the widget's preview, styled in its shadow root
    expect(page.get_by_role("dialog", name="Shop helper chat")).to_be_visible()
    page.goto(f"{base}/api-keys/")
    page.get_by_label("Name").fill("Shop backend")
    page.get_by_role("button", name="Create key").click()
    page.get_by_label("New API key").focus()
    selected = "() => document.activeElement.selectionEnd - document.activeElement.selectionStart"
    assert page.evaluate(selected) == len(page.get_by_label("New API key").input_value())  # selected on focus

    page.goto(f"{live_server_url}/api/docs/")
    expect(page.get_by_role("heading", name="AI Product Studio API")).to_be_visible()
    page.goto(f"{live_server_url}/api/redoc/")
    expect(page.get_by_role("heading", name="AI Product Studio API").first).to_be_visible(timeout=30_000)
    page.goto(f"{live_server_url}/admin/login/")
    expect(page.get_by_label("Email")).to_be_visible()
    page.goto(f"{live_server_url}/no-such-page/")
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()

    # Redoc always shows its maker's logo from their CDN; the docs policy blocks that on purpose (no
    # requests to other sites), so that one refusal is expected.
    assert [v for v in violations if "https://cdn.redoc.ly/redoc/logo-mini.svg" not in v] == []


class StrictSite(ThreadingHTTPServer):
    """A customer's page whose own policy allows scripts and connections from the studio and nothing else."""

    studio = ""
    script_tag = ""

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def policy(self) -> str:
        ws = self.studio.replace("http://", "ws://")
        return (f"default-src 'none'; script-src {self.studio}; connect-src {self.studio} {ws}; "
                "style-src 'none'; img-src 'none'; frame-ancestors 'none'")


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"<!doctype html><html><head><title>Shop</title></head><body><h1>Shop</h1>{self.server.script_tag}"
        body = (body + "</body></html>").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Security-Policy", self.server.policy())
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def strict_site(live_server_url) -> Iterator[StrictSite]:
    site = StrictSite(("127.0.0.1", 0), _Handler)
    site.studio = live_server_url
    threading.Thread(target=site.serve_forever, daemon=True).start()
    yield site
    site.shutdown()
    site.server_close()


def test_the_widget_streams_and_takes_feedback_under_a_sites_strict_policy(
    page, live_server_url, make_team, make_product, strict_site,  # noqa: F811 - the imported fixture
):
    product = make_product(make_team("Trail Shop"), name="Shop helper", template_id="social-post", length=8)
    product.allowed_origins = [strict_site.origin]
    product.save(update_fields=["allowed_origins"])
    strict_site.script_tag = f'<script src="{live_server_url}/embed/{product.public_key}.js" async></script>'
    violations = _violations(page)

    page.goto(strict_site.origin)
    page.get_by_role("button", name="Open chat").click()
    page.get_by_role("textbox", name="Your message").fill("Our new trail shoes keep feet dry")
    page.get_by_role("textbox", name="Your message").press("Enter")
    good = page.get_by_role("button", name="Good answer")
    expect(good).to_be_visible(timeout=90_000)
    good.click()
    expect(page.locator("ai-studio-chat .typing")).to_have_text("Thanks for the feedback.")
    launcher = page.locator("ai-studio-chat .launcher")  # the widget's own styles applied
    assert launcher.evaluate("(node) => getComputedStyle(node).backgroundColor") == "rgb(52, 81, 209)"

    assert violations == []
