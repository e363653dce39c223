"""Website origins (scheme://host[:port]) as the browser sends them in the Origin header."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_normalize(raw: str) -> str:
    """The canonical form of one origin, or ValidationError with a sentence that names the fix."""
    text = raw.strip()
    example = "Write it as https://shop.example or http://localhost:8000."
    if not text:
        raise ValidationError(f"An origin is empty. {example}")
    parts = urlsplit(text)
    if parts.scheme not in DEFAULT_PORTS or not parts.netloc:
        raise ValidationError(f"“{text}” is not a website origin: it needs http:// or https://. {example}")
    if parts.username or parts.password:
        raise ValidationError(f"“{text}” contains a user name or password; remove it. {example}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValidationError(
            f"“{text}” has a path: an origin is only the scheme, host and port "
            f"(“{parts.scheme}://{parts.netloc}”)."
        )
    try:
        port = parts.port
    except ValueError:
        raise ValidationError(f"“{text}” has a port that is not a number from 1 to 65535.") from None
    host = (parts.hostname or "").rstrip(".")
    if not host or "*" in host or " " in host:
        raise ValidationError(f"“{text}” has no valid host name; wildcards are not allowed. {example}")
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if port is None or port == DEFAULT_PORTS[parts.scheme]:
        return f"{parts.scheme}://{host}"
    return f"{parts.scheme}://{host}:{port}"


def origins_parse(text: str) -> list[str]:
    """Origins from a text box (one per line, or separated by commas or spaces), de-duplicated.

    Raises ValidationError listing every bad line, so the person can fix them all at once.
    """
    seen: dict[str, None] = {}
    errors: list[str] = []
    for item in text.replace(",", "\n").split():
        try:
            seen[origin_normalize(item)] = None
        except ValidationError as exc:
            errors.extend(exc.messages)
    if errors:
        raise ValidationError(errors)
    return list(seen)


def origin_allowed(origin: str | None, allowed: list[str]) -> bool:
    """True when the Origin header names one of the allowed origins exactly (after normalising)."""
    if not origin or origin == "null":
        return False
    try:
        return origin_normalize(origin) in allowed
    except ValidationError:
        return False


def same_origin(origin: str | None, host: str | None, *, secure: bool) -> bool:
    """True when ``origin`` is exactly the site at Host ``host``: scheme (https when ``secure``), host and port.

    For the Embed tab's live preview, which runs on the studio's own pages. ``foo://127.0.0.1:8000``
    or ``https://…`` on a plain-HTTP studio are other origins, whatever their host.
    """
    if not origin or origin == "null" or not host:
        return False
    scheme = "https" if secure else "http"
    try:
        return origin_normalize(origin) == origin_normalize(f"{scheme}://{host}")
    except ValidationError:  # an origin or Host header that is no website's (a path, a user name, garbage)
        return False


def websocket_is_secure(scope: dict[str, Any]) -> bool:
    """Whether the page behind a websocket was served over HTTPS: wss, or a trusted proxy's forwarded proto."""
    if scope.get("scheme") == "wss":
        return True
    proxy_header = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if not proxy_header:
        return False
    name, value = proxy_header
    wanted = name.removeprefix("HTTP_").lower().replace("_", "-").encode("latin1")
    return any(key.lower() == wanted and raw.decode("latin1") == value for key, raw in scope.get("headers", []))
