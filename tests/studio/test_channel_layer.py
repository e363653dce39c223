"""The Redis channel layer's one-round-trip send keeps channels-redis's rules: order, capacity, expiry."""

from __future__ import annotations

import pytest
from channels.exceptions import ChannelFull
from django.conf import settings

from studio.channel_layer import RedisChannelLayer

pytestmark = pytest.mark.skipif("Redis" not in settings.CHANNEL_LAYERS["default"]["BACKEND"],
                                reason="needs REDIS_URL (the Redis channel layer)")


def _layer(**config) -> RedisChannelLayer:
    hosts = settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"]
    return RedisChannelLayer(hosts=hosts, prefix="test-channel-layer", **config)


async def test_messages_to_a_process_local_channel_arrive_in_the_order_they_were_sent():
    layer = _layer()
    channel = await layer.new_channel()
    for number in range(3):
        await layer.send(channel, {"type": "generation.token", "text": str(number)})

    received = [await layer.receive(channel) for _ in range(3)]

    assert [message["text"] for message in received] == ["0", "1", "2"]
    assert all(message["type"] == "generation.token" for message in received)
    await layer.flush()


async def test_a_send_beyond_the_channels_capacity_raises_channel_full_and_the_earlier_messages_stay():
    layer = _layer(capacity=2)
    await layer.send("inference.test-full", {"type": "one"})
    await layer.send("inference.test-full", {"type": "two"})

    with pytest.raises(ChannelFull):
        await layer.send("inference.test-full", {"type": "three"})

    assert [(await layer.receive("inference.test-full"))["type"] for _ in range(2)] == ["one", "two"]
    await layer.flush()


async def test_a_message_older_than_the_expiry_is_dropped_by_the_next_send():
    layer = _layer(expiry=1)
    key = layer.prefix + "inference.test-expiry"
    connection = layer.connection(0)
    await connection.zadd(key, {layer.serialize({"type": "stale"}): 1.0})  # sent long ago

    await layer.send("inference.test-expiry", {"type": "fresh"})

    assert await connection.zcard(key) == 1
    assert (await layer.receive("inference.test-expiry"))["type"] == "fresh"
    await layer.flush()
