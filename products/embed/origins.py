"""Website origins (scheme://host[:port]) as the browser sends them in the Origin header."""

from __future__ import annotations

from urllib.parse import urlsplit

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
