"""Who a visitor is (for rate limits) and the widget's and API's usage limits.

The counters are studio.ratelimit's atomic sliding windows on the shared cache (Redis in
production), so they hold across processes and concurrent requests.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings

from studio.ratelimit import Limit, rate_limits_take

HOUR, DAY, MINUTE = 3600, 86400, 60

VISITOR_LIMIT_MESSAGE = (
    "You have sent as many messages as this chat allows in an hour ({limit}). Please try again later."
)
PRODUCT_LIMIT_MESSAGE = "This chat has answered as many messages as it can today. Please try again tomorrow."
API_LIMIT_MESSAGE = (
    "This API key has started {limit} {generations} in the last minute, its limit. Wait a minute, then retry."
)


def _networks(entries: Iterable[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry.strip()]


def _is_trusted(address: str, networks) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(peer: str | None, forwarded_for: str | None, trusted_proxies: Iterable[str] | None = None) -> str:
    """The visitor's address for rate limits.

    The socket peer, unless that peer is one of ``trusted_proxies`` (default: settings.TRUSTED_PROXIES):
    then the right-most X-Forwarded-For entry that is not a trusted proxy. Anyone can write
    X-Forwarded-For, so it is never believed from an untrusted peer.
    """
    peer = peer or "unknown"
    networks = _networks(settings.TRUSTED_PROXIES if trusted_proxies is None else trusted_proxies)
    if not networks or not forwarded_for or not _is_trusted(peer, networks):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, networks):
            return hop
    return hops[0] if hops else peer


PLAYGROUND_LIMIT_MESSAGE = "You are generating very fast. Wait a minute, then try again."
TEAM_PLAYGROUND_LIMIT_MESSAGE = (
    "Your team has started {limit} playground generations in the last minute, the most it may. "
    "Wait a minute, then try again."
)
TEAM_API_LIMIT_MESSAGE = (
    "This team's API keys have started {limit} generations in the last minute, the team's limit (more keys do "
    "not raise it). Wait a minute, then retry."
)


@dataclass(frozen=True)
class LimitRefusal:
    """A limit that said no: the sentence for the person, and the seconds until the same call would pass."""

    message: str
    retry_after_s: int


def generation_limits_check(
    *, channel: str, product, user_id: int | None, api_key_id: int | None, visitor: str, cost: int = 1
) -> LimitRefusal | None:
    """Take ``cost`` generations (one per variant) from every limit of the channel at once: the one place limits apply.

    Per key or person and per team (API, playground), per visitor and per product (widget): all are
    taken together or none is, so a refused call uses up nothing. None when the call may start.
    """
    limits = _channel_limits(channel=channel, product=product, user_id=user_id, api_key_id=api_key_id,
                             visitor=visitor)
    decision = rate_limits_take([limit for limit, _ in limits], cost=cost)
    if decision.allowed:
        return None
    message = next(message for limit, message in limits if limit == decision.refused_by)
    return LimitRefusal(message, decision.retry_after_s)


def _channel_limits(*, channel: str, product, user_id, api_key_id, visitor) -> list[tuple[Limit, str]]:
    """The channel's limits, each with the sentence to show when it is the one reached."""
    team_id = product.team_id
    if channel == "comparison":
        # A blind comparison's generations are the team's own evaluation, written by a worker at its own pace
        # (one at a time, at most MAX_SIZE pairs): they must not use up the playground's or the widget's limits.
        return []
    if channel == "widget":
        per_visitor, per_day = product.widget_messages_per_visitor_hour, product.widget_messages_per_day
        return [
            (Limit(f"widget:visitor:{product.pk}:{visitor}", per_visitor, HOUR),
             VISITOR_LIMIT_MESSAGE.format(limit=per_visitor)),
            (Limit(f"widget:product:{product.pk}", per_day, DAY), PRODUCT_LIMIT_MESSAGE),
        ]
    if channel == "api":
        per_key, per_team = settings.API_GENERATIONS_PER_MINUTE, settings.TEAM_API_GENERATIONS_PER_MINUTE
        return [
            (Limit(f"api:key:{api_key_id}", per_key, MINUTE), api_limit_message(per_key)),
            (Limit(f"api:team:{team_id}", per_team, MINUTE), TEAM_API_LIMIT_MESSAGE.format(limit=per_team)),
        ]
    per_person, per_team = settings.PLAYGROUND_GENERATIONS_PER_MINUTE, settings.TEAM_PLAYGROUND_GENERATIONS_PER_MINUTE
    return [
        (Limit(f"playground:person:{user_id}", per_person, MINUTE), PLAYGROUND_LIMIT_MESSAGE),
        (Limit(f"playground:team:{team_id}", per_team, MINUTE), TEAM_PLAYGROUND_LIMIT_MESSAGE.format(limit=per_team)),
    ]


def api_limit_message(limit: int) -> str:
    return API_LIMIT_MESSAGE.format(limit=limit, generations="generation" if limit == 1 else "generations")
