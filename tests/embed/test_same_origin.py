"""products/embed/origins.py same_origin: the studio's own page is scheme, host and port, not just host."""

from __future__ import annotations

import pytest

from products.embed.origins import same_origin, websocket_is_secure


@pytest.mark.parametrize(("origin", "host", "secure"), [
    ("http://127.0.0.1:8000", "127.0.0.1:8000", False),
    ("https://studio.example", "studio.example", True),
    ("https://studio.example", "studio.example:443", True),  # the default port, written or not
    ("http://studio.example:80", "studio.example", False),
    ("http://Studio.Example:8000", "studio.example:8000", False),
    ("http://[::1]:8000", "[::1]:8000", False),
])
def test_the_studio_s_own_origin_is_the_same_origin(origin, host, secure):
    assert same_origin(origin, host, secure=secure) is True


@pytest.mark.parametrize(("origin", "host", "secure"), [
    ("foo://127.0.0.1:8000", "127.0.0.1:8000", False),  # accepted before: the scheme was ignored
    ("javascript://127.0.0.1:8000", "127.0.0.1:8000", False),
    ("https://127.0.0.1:8000", "127.0.0.1:8000", False),  # https page, plain-http studio
    ("http://studio.example", "studio.example", True),  # http page, https studio
    ("http://127.0.0.1:8001", "127.0.0.1:8000", False),
    ("http://127.0.0.1", "127.0.0.1:8000", False),
    ("http://evil.example", "studio.example", False),
    ("http://studio.example.evil.example", "studio.example", False),
    ("http://user@127.0.0.1:8000", "127.0.0.1:8000", False),
    ("http://127.0.0.1:8000/path", "127.0.0.1:8000", False),
    ("127.0.0.1:8000", "127.0.0.1:8000", False),
    ("null", "127.0.0.1:8000", False),
    ("", "127.0.0.1:8000", False),
    (None, "127.0.0.1:8000", False),
    ("http://127.0.0.1:8000", None, False),
    ("http://127.0.0.1:8000", "127.0.0.1:8000/x", False),
    ("http://127.0.0.1:8000", "127.0.0.1:99999", False),
])
def test_another_scheme_host_or_port_is_not_the_same_origin(origin, host, secure):
    assert same_origin(origin, host, secure=secure) is False


def test_a_socket_is_secure_over_wss_or_behind_a_trusted_tls_proxy(settings):
    settings.SECURE_PROXY_SSL_HEADER = None
    forwarded = {"scheme": "ws", "headers": [(b"x-forwarded-proto", b"https")]}
    assert websocket_is_secure({"scheme": "wss", "headers": []}) is True
    assert websocket_is_secure(forwarded) is False  # anyone can send the header without a proxy to trust
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    assert websocket_is_secure(forwarded) is True
    assert websocket_is_secure({"scheme": "ws", "headers": [(b"x-forwarded-proto", b"http")]}) is False
