"""A newcomer signs up, creates a team and lands on an empty dashboard that says what to do."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from studio.models import Membership

pytestmark = pytest.mark.browser
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "dashboard.png"


def test_newcomer_signs_up_creates_a_team_and_sees_the_empty_dashboard(page, live_server_url):
    page.goto(live_server_url)
    page.get_by_role("link", name="Create your account").click()
    page.get_by_label("Your name").fill("Grace")
    page.get_by_label("Work email").fill("grace@example.com")
    page.get_by_label("Password").fill("a-long-enough-passphrase")
    page.get_by_role("button", name="Sign up").click()

    expect(page.get_by_role("heading", name="Create a team")).to_be_visible()
    page.get_by_label("Team name").fill("Grace's Shop")
    page.get_by_role("button", name="Create team").click()

    expect(page).to_have_url(re.compile(r"/t/graces-shop/$"))
    expect(page.get_by_role("heading", name="Grace's Shop")).to_be_visible()
    expect(page.get_by_text("Grace's Shop is ready. You are its owner.")).to_be_visible()
    for empty_state in ("No products yet", "No datasets yet", "No training runs yet"):
        expect(page.get_by_text(empty_state)).to_be_visible()
    checklist = page.get_by_test_id("getting-started")
    expect(checklist.get_by_role("listitem")).to_have_text([
        re.compile(rf"{step} \(not done yet\)") for step in
        ("Create a product", "Try it", "Upload a dataset", "Publish", "Embed it on your website")
    ])
    checklist.get_by_role("link", name="Create a product").click()
    expect(page).to_have_url(re.compile(r"/t/graces-shop/products/new/$"))
    page.go_back()
    assert Membership.objects.get(user__email="grace@example.com").role == "owner"

    if not SCREENSHOT.exists():  # the README's picture; delete the file to retake it
        SCREENSHOT.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOT))


def test_signup_form_shows_the_problem_in_words(page, live_server_url):
    page.goto(f"{live_server_url}/accounts/signup/")
    page.get_by_label("Work email").fill("not-an-email")
    page.get_by_label("Password").fill("short")
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_text("Enter a valid email address.")).to_be_visible()
