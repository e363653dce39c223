"""A team admin creates an API key, sees it once, uses it from code, then revokes it."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import expect

from products.models import ApiKey

pytestmark = pytest.mark.browser


def _products(base_url: str, secret: str) -> tuple[int, dict]:
    request = urllib.request.Request(f"{base_url}/api/v1/products/", headers={"Authorization": f"Bearer {secret}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def test_admin_creates_a_key_sees_it_once_uses_it_and_revokes_it(logged_in_page, live_server_url, make_team):
    team = make_team("Trail Shop")
    page = logged_in_page(team.memberships.get().user)
    page.goto(f"{live_server_url}/t/{team.slug}/api-keys/")
    expect(page.get_by_text("No keys yet")).to_be_visible()

    page.get_by_label("Name").fill("Shop backend")
    expect(page.get_by_label("Read and generate")).to_be_checked()  # the default
    page.get_by_label("Read only").check()
    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_role("heading", name="Copy your new key now")).to_be_visible()
    secret = page.get_by_label("New API key").input_value()
    assert secret.startswith("sk_") and ApiKey.objects.get().scope == "read"

    assert _products(live_server_url, secret) == (200, {"count": 0, "next": None, "previous": None, "results": []})

    # The secret was only ever in that one response (never stored, so never shown again).
    page.goto(f"{live_server_url}/t/{team.slug}/api-keys/")
    assert secret not in page.content()
    row = page.get_by_role("row", name="Shop backend")
    expect(row).to_contain_text(f"{secret[:11]}…")
    expect(row).to_contain_text("Read only")
    expect(row).not_to_contain_text("Never")  # it was used a moment ago

    row.get_by_role("button", name="Revoke Shop backend").click()
    expect(page.get_by_text("“Shop backend” is revoked: requests with it are refused from now on.")).to_be_visible()
    expect(page.get_by_role("row", name="Shop backend")).to_contain_text("Revoked")
    status, body = _products(live_server_url, secret)
    assert status == 401 and body["detail"].startswith("This API key is not valid, or it was revoked.")


def test_the_key_page_links_to_browsable_api_docs_served_by_the_studio_itself(
    logged_in_page, live_server_url, make_team,
):
    team = make_team("Trail Shop")
    page = logged_in_page(team.memberships.get().user)
    outside: list[str] = []
    page.on("request", lambda request: None if request.url.startswith(live_server_url) else outside.append(request.url))
    page.goto(f"{live_server_url}/t/{team.slug}/api-keys/")
    page.get_by_role("link", name="REST API").click()

    expect(page.get_by_role("heading", name=re.compile("AI Product Studio API"))).to_be_visible()
    for path in ("/api/v1/products/{slug}/generate/", "/api/v1/datasets/", "/api/v1/training-runs/",
                 "/v1/chat/completions", "/v1/models"):
        expect(page.locator(f'[data-path="{path}"]').first).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("Authorize"))).to_be_visible()
    assert outside == []  # no CDN: the docs work where the studio has no internet access
