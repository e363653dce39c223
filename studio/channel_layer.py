"""The Redis channel layer: channels-redis, with ``send`` in one round trip to Redis instead of four.

channels-redis sends with four commands one after another (drop expired messages, count against the
capacity, add, set the expiry), so each hop of a generation waits four times for Redis; a generation's
first token makes three hops before it is on the websocket (request, start, first token frame), and on a
busy machine each wait is a scheduling delay of both processes. Here the same four commands run as one Lua
script: the same keys, scores, expiry and ChannelFull, atomically (the count and the add can no longer race).
Receiving and groups are channels-redis's own.
"""

from __future__ import annotations

import time

from channels.exceptions import ChannelFull
from channels_redis.core import RedisChannelLayer as BaseRedisChannelLayer

# KEYS[1] the channel's sorted set; ARGV: oldest score kept, capacity, score, message, expiry (s).
SEND_SCRIPT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, ARGV[1])
if redis.call('ZCOUNT', KEYS[1], '-inf', '+inf') >= tonumber(ARGV[2]) then
    return 0
end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""


class RedisChannelLayer(BaseRedisChannelLayer):
    """channels-redis's layer (settings.CHANNEL_LAYERS) whose ``send`` is one round trip."""

    async def send(self, channel: str, message: dict) -> None:
        """Send a message onto a (general or specific) channel, as channels-redis does, in one round trip."""
        assert isinstance(message, dict), "message is not a dict"
        assert self.require_valid_channel_name(channel), "Channel name not valid"
        assert "__asgi_channel__" not in message
        non_local_name = channel
        if "!" in channel:  # a process-local channel: the receiving process routes on the full name
            message = {**message, "__asgi_channel__": channel}
            non_local_name = self.non_local_name(channel)
        # Consistent for specific channels (their receiver listens on one server), round robin for general ones.
        index = self.consistent_hash(channel) if "!" in channel else next(self._send_index_generator)
        now = time.time()
        added = await self.connection(index).eval(
            SEND_SCRIPT, 1, self.prefix + non_local_name,
            int(now) - int(self.expiry), self.get_capacity(channel), now, self.serialize(message), int(self.expiry),
        )
        if not added:
            raise ChannelFull()
