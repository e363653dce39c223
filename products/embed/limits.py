"""Who a visitor is (for rate limits) and the widget's and API's usage limits.

The counters are studio.ratelimit's atomic fixed windows on the shared cache (Redis in
production), so they hold across processes and concurrent requests.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from django.conf import settings

from studio.ratelimit import rate_limit_hit

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


def generation_limits_check(
    *, channel: str, product, user_id: int | None, api_key_id: int | None, visitor: str, cost: int = 1
) -> str | None:
    """Count ``cost`` generations (one per variant) against the channel's limits: the one place limits apply.

    Returns the sentence for the person when a limit is reached, else None.
    """
    if channel == "widget":
        return widget_limit_check(product_id=product.pk, visitor=visitor, cost=cost,
                                  per_visitor_hour=product.widget_messages_per_visitor_hour,
                                  per_day=product.widget_messages_per_day)
    if channel == "api":
        return api_limit_check(api_key_id=api_key_id, cost=cost)
    limit = settings.PLAYGROUND_GENERATIONS_PER_MINUTE
    if not rate_limit_hit(f"playground:{user_id}", limit=limit, window_s=MINUTE, cost=cost):
        return PLAYGROUND_LIMIT_MESSAGE
    return None


def widget_limit_check(*, product_id: int, visitor: str, per_visitor_hour: int, per_day: int,
                       cost: int = 1) -> str | None:
    """Count widget messages; the sentence to show the visitor when a limit is reached, else None."""
    if not rate_limit_hit(f"widget:visitor:{product_id}:{visitor}", limit=per_visitor_hour, window_s=HOUR,
                          cost=cost):
        return VISITOR_LIMIT_MESSAGE.format(limit=per_visitor_hour)
    if not rate_limit_hit(f"widget:product:{product_id}", limit=per_day, window_s=DAY, cost=cost):
        return PRODUCT_LIMIT_MESSAGE
    return None


def api_limit_check(*, api_key_id: int, cost: int = 1) -> str | None:
    """Count API generations; the error message when the key is over its per-minute limit."""
    limit = settings.API_GENERATIONS_PER_MINUTE
    if not rate_limit_hit(f"api:{api_key_id}", limit=limit, window_s=MINUTE, cost=cost):
        return api_limit_message(limit)
    return None


def api_limit_message(limit: int) -> str:
    return API_LIMIT_MESSAGE.format(limit=limit, generations="generation" if limit == 1 else "generations")
