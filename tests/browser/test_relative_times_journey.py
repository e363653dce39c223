"""A page left open keeps saying how long ago things happened: "50 seconds ago" becomes "1 minute ago"."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from products.models import Product
from products.services import product_create

pytestmark = pytest.mark.browser


def test_dashboard_times_move_on_while_the_page_stays_open(logged_in_page, live_server_url, make_team):
    team = make_team("Trail Shop")
    owner = team.memberships.get().user
    product = product_create(team=team, user=owner, kind_id="copywriting", template_id="ad-headlines", name="Headlines")
    updated = timezone.now().replace(microsecond=0) - timedelta(seconds=50)
    Product.objects.filter(pk=product.pk).update(updated_at=updated)
    page = logged_in_page(owner)

    # The browser's clock starts where the server's was, then moves only when the test moves it.
    page.clock.install(time=updated + timedelta(seconds=50))
    page.goto(f"{live_server_url}/t/{team.slug}/")
    page.clock.pause_at(updated + timedelta(seconds=55))
    when = page.get_by_role("listitem").filter(has_text="Headlines").locator("time")
    expect(when).to_have_text(re.compile(r"^5\d seconds ago$"))
    expect(when).to_have_attribute("datetime", updated.isoformat())
    assert str(updated.year) in when.get_attribute("title")  # the absolute moment, on hover

    page.clock.run_for(30_000)
    expect(when).to_have_text("1 minute ago")
    page.clock.run_for(60 * 60_000)
    expect(when).to_have_text("1 hour ago")
