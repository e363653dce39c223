"""The widget socket answers deep or non-finite JSON with bad_request and stays open (it closed with 1011)."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from products.consumers import WidgetConsumer
from products.models import Generation
from tests.embed.test_widget_consumer import _open
from tests.products.test_playground_malformed_frames import DEEP_OR_NOT_JSON

pytestmark = pytest.mark.django_db(transaction=True)

BAD_REQUEST = {"event": "error", "code": "bad_request", "message": WidgetConsumer.help_text}


async def test_deep_or_non_finite_json_frames_get_bad_request_and_the_chat_stays_open(make_team, make_widget_product):
    team = await database_sync_to_async(make_team)("Acme")
    product = await database_sync_to_async(make_widget_product)(team)
    communicator = await _open(product.public_key)
    for frame in [*DEEP_OR_NOT_JSON, '{"action": "generate", "message": ' * 50_000]:
        await communicator.send_to(text_data=frame)
        assert await communicator.receive_json_from(timeout=10) == BAD_REQUEST
    await communicator.send_json_to({"action": "publish"})
    assert await communicator.receive_json_from(timeout=10) == BAD_REQUEST
    await communicator.disconnect()
    assert await database_sync_to_async(Generation.objects.count)() == 0
