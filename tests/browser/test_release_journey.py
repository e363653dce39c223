"""An editor tries version 2 on 20 % of visitors, reads the per-arm table, and promotes it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from products.models import Generation
from products.services import (
    generation_finish,
    product_create,
    product_version_create,
    product_version_publish,
)
from tests.api.conftest import fresh_rate_limits  # noqa: F401 - autouse: rate limits start from zero
from tests.products.releases.conftest import ask

pytestmark = pytest.mark.browser


def test_an_editor_starts_a_20_percent_split_reads_the_arms_and_promotes_the_candidate(
    live_server_url, logged_in_page, make_team,
):
    team = make_team("Shop")
    owner = team.memberships.get().user
    product = product_create(team=team, user=owner, kind_id="copywriting", template_id="social-post", name="Posts")
    product_version_publish(product=product, version=product_version_create(product=product, user=owner, note="one"))
    product_version_create(product=product, user=owner, note="warmer tone")
    product.widget_messages_per_visitor_hour = product.widget_messages_per_day = 10_000
    product.save()
    page = logged_in_page(owner)

    page.goto(f"{live_server_url}/t/{team.slug}/products/{product.slug}/")
    page.get_by_role("link", name="Releases").click()
    expect(page.get_by_role("heading", name="Try a version on part of your traffic")).to_be_visible()
    page.get_by_label("Version to try").select_option(label="Version 2 · warmer tone")
    page.get_by_label("Share of visitors (%)").fill("20")
    page.get_by_role("button", name="Start the split").click()
    expect(page.get_by_text("Version 2 now answers 20 % of visitors.")).to_be_visible()
    expect(page.get_by_role("heading", name="A/B split: version 2 for 20 % of visitors")).to_be_visible()

    # Visitors chat meanwhile (the one start path, as the widget calls it); their answers finish.
    for n in range(60):
        generation = ask(product, f"visitor{n:04d}")
        generation_finish(generation_id=generation.pk, output="Sale!", finish_reason="eos", tokens_in=4,
                          tokens_out=6, time_to_first_token_s=0.25, duration_s=0.5)
    on_candidate = Generation.objects.filter(arm="candidate", version__number=2).count()
    assert 0 < on_candidate < 60

    page.reload()
    table = page.get_by_test_id("arm-table")
    expect(table.get_by_test_id("candidate-generations")).to_have_text(str(on_candidate))
    expect(table.get_by_test_id("control-generations")).to_have_text(str(60 - on_candidate))
    expect(table.get_by_test_id("candidate-tokens")).to_have_text(str(10 * on_candidate))
    expect(table.get_by_test_id("candidate-p50")).to_have_text("250 ms")

    page.get_by_role("button", name="Promote version 2: live for everyone").click()
    expect(page.get_by_text("Version 2 is live for everyone.")).to_be_visible()
    expect(page.get_by_text("Version 2 is live.", exact=True)).to_be_visible()
    assert {ask(product, f"visitor{n:04d}").version.number for n in range(10)} == {2}
    page.get_by_role("link", name="Usage").click()
    expect(page.get_by_text("60 in 30 days")).to_be_visible()  # finished generations only
