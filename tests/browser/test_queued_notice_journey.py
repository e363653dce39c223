"""A visitor whose generation waits behind another reads "waiting: next in line", and the notice goes once it writes.

The live studio runs the real worker and the bundled model with room for one sequence at a time
(``STUDIO_INFERENCE_MAX_BATCH=1``), so the second of two variants really queues behind the first. It also
caught the worker's loop frozen by the model's first load (tests/inference/test_runtime_loading.py): the
second variant then failed with "no inference worker is running".
"""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from products.models import Generation
from products.services import product_create, product_draft_update
from tests.browser.conftest import FIRST_ANSWER_MS, wait_until_ready

pytestmark = [pytest.mark.browser, pytest.mark.model]


@pytest.fixture(scope="module")
def live_studio_env() -> dict[str, str]:
    return {"STUDIO_INFERENCE_MAX_BATCH": "1"}


def test_queued_variant_drops_its_waiting_notice_once_the_model_writes_it(logged_in_page, live_server_url, make_team):
    team = make_team("Acme")
    owner = team.memberships.get().user
    product = product_create(team=team, user=owner, kind_id="copywriting", template_id="product-description")
    product_draft_update(product=product, system_prompt=product.system_prompt,
                         prompt_template=product.prompt_template,
                         settings={"creativity": 0, "length": 24, "variants": 2})
    page = logged_in_page(owner)
    frames: list[dict] = []
    page.on("websocket", lambda socket: socket.on(
        "framereceived", lambda payload: frames.append(json.loads(payload))))
    page.goto(f"{live_server_url}/t/{team.slug}/products/{product.slug}/")
    wait_until_ready(page, "#playground")
    page.get_by_label("Product name").fill("Trail running shoes")
    page.get_by_label("Key features").fill("Waterproof\nWeighs 220 g")
    page.get_by_role("button", name="Generate", exact=True).click()

    first, second = page.locator(".variant").nth(0), page.locator(".variant").nth(1)
    expect(first.get_by_test_id("variant-meta")).to_contain_text("tokens", timeout=FIRST_ANSWER_MS)
    expect(second.get_by_test_id("variant-meta")).to_contain_text("tokens", timeout=FIRST_ANSWER_MS)

    # One of the two really waited (the worker said so), and neither card still says it is waiting.
    queued = [frame for frame in frames if frame.get("event") == "queued"]
    assert queued and {frame["position"] for frame in queued} == {0}, frames
    for card in (first, second):
        expect(card.get_by_test_id("variant-meta")).not_to_contain_text("waiting")
        expect(card.get_by_test_id("variant-text")).not_to_be_empty()
    assert Generation.objects.filter(status="finished").count() == 2
