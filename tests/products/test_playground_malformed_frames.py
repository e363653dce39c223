"""The playground socket answers malformed frames with an error frame and stays open; nothing is logged.

No worker runs: every frame here is refused before a request would reach one.
"""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from products.consumers import GenerationConsumer
from products.models import Generation
from products.services import product_create, product_draft_update
from tests.products.test_generation_stream import INPUTS, _connect

pytestmark = pytest.mark.django_db(transaction=True)

BAD_REQUEST = {"event": "error", "code": "bad_request", "message": GenerationConsumer.help_text}
# The settings form's one message per setting (products/kinds/settings.py), for any non-number.
NOT_A_NUMBER = {
    "creativity": "Creativity must be a number from 0 to 1.5.",
    "length": "Length (tokens) must be a whole number from 8 to 1024.",
    "variants": "Variants must be a whole number from 1 to 4.",
}

DEEP_OR_NOT_JSON = [
    "[" * 100_000,
    '{"action": "generate", "inputs": ' * 100_000,
    '{"action": "generate", "inputs": {}, "settings": {"creativity": NaN}}',
    '{"action": "generate", "inputs": {}, "settings": {"creativity": Infinity}}',
    '{"action": "generate", "inputs": {}, "settings": {"creativity": 1e400}}',
]


@pytest.fixture
def copy_product(make_team):
    team = make_team("Acme")
    owner = team.memberships.get().user
    return product_create(team=team, user=owner, kind_id="copywriting", template_id="ad-headlines"), owner


async def _generations() -> int:
    return await database_sync_to_async(Generation.objects.count)()


async def test_deep_or_non_finite_json_frames_get_bad_request_and_the_socket_stays_open(copy_product):
    product, owner = copy_product
    communicator = await _connect(product, owner)
    for frame in DEEP_OR_NOT_JSON:
        await communicator.send_to(text_data=frame)
        assert await communicator.receive_json_from(timeout=10) == BAD_REQUEST
    await communicator.send_json_to({"action": "dance"})  # still answering, not closed with 1011
    assert await communicator.receive_json_from(timeout=10) == BAD_REQUEST
    await communicator.disconnect()
    assert await _generations() == 0


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "Infinity", "1e400"])
@pytest.mark.parametrize("name", ["creativity", "length", "variants"])
async def test_non_finite_settings_are_refused_naming_the_setting(copy_product, name, value):
    product, owner = copy_product
    communicator = await _connect(product, owner)
    await communicator.send_json_to({"action": "generate", "inputs": INPUTS, "settings": {name: value}})
    message = NOT_A_NUMBER[name]
    assert await communicator.receive_json_from(timeout=10) == {
        "event": "error", "code": "invalid_settings", "message": message, "fields": {name: message}}
    await communicator.disconnect()
    assert await _generations() == 0


async def test_a_non_finite_number_input_is_refused_naming_the_input(make_team):
    team = await database_sync_to_async(make_team)("Acme")
    owner = await database_sync_to_async(lambda: team.memberships.get().user)()
    product = await database_sync_to_async(product_create)(
        team=team, user=owner, kind_id="copywriting", template_id="email-subject-lines")
    communicator = await _connect(product, owner)
    for value in ("nan", "inf", "-Infinity", "1e999"):
        await communicator.send_json_to({"action": "generate", "inputs": {"email_about": "Sale", "max_words": value}})
        assert await communicator.receive_json_from(timeout=10) == {
            "event": "error", "code": "invalid_input", "message": "Maximum words must be a number.",
            "fields": {"max_words": "Maximum words must be a number."}}
    await communicator.disconnect()
    assert await _generations() == 0


async def test_a_prompt_over_the_character_cap_is_refused_before_it_reaches_a_worker(make_team):
    team = await database_sync_to_async(make_team)("Acme")
    owner = await database_sync_to_async(lambda: team.memberships.get().user)()

    def repeating_product():
        # A saved template may repeat a placeholder: seven long inputs pass what the model could read.
        product = product_create(team=team, user=owner, kind_id="copywriting", template_id="product-description")
        return product_draft_update(product=product, system_prompt="", prompt_template="{product} " + "{features} " * 7,
                                    settings={"creativity": 0, "length": 8, "variants": 1})

    product = await database_sync_to_async(repeating_product)()
    communicator = await _connect(product, owner)
    await communicator.send_json_to({"action": "generate", "inputs": {"product": "Shoes", "features": "x" * 2000,
                                                                  "tone": "bold"}})
    message = "This makes the prompt longer than 12,288 characters, the most the model reads; shorten it."
    assert await communicator.receive_json_from(timeout=10) == {
        "event": "error", "code": "invalid_input", "message": message, "fields": {"features": message}}
    await communicator.disconnect()
    assert await _generations() == 0
