"""Remote OpenAI-compatible engines (vLLM, llama.cpp's server): the operator's allow-list, the API key's
encryption, the connection check of the Engine tab, and the words people read when one fails.

The web tier (Engine tab) and the worker tier (inference/engines/remote.py, which streams) share this
module; it imports nothing heavy. Engines are operator-level on purpose: sign-up is open, so any stranger
can be a team admin, and a typed URL would let them make the studio call any address it can reach.
Admins pick a name from settings.REMOTE_ENGINES (env STUDIO_REMOTE_ENGINES); redirects are never followed.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils.crypto import salted_hmac

NOT_ALLOWED = ("The remote engine “{name}” is not on this studio's list of allowed engines any more. An admin "
               "picks another engine on the product's Engine tab (the operator lists them in STUDIO_REMOTE_ENGINES).")
KEY_UNREADABLE = ("The API key saved for the remote engine “{name}” can no longer be read (the studio's SECRET_KEY "
                  "changed). An admin enters the key again on the product's Engine tab.")
_KEY_SALT = "products.remote_engines.api_key"


class RemoteEngineError(Exception):
    """A remote engine that cannot be used or did not answer; the message is for people."""


def remote_engine_choices() -> list[tuple[str, str]]:
    """(name, label) for the Engine tab's select: this studio first, then the operator's engines by name."""
    return [("", "This studio"), *((name, name) for name in sorted(settings.REMOTE_ENGINES))]


def remote_engine_url(name: str) -> str:
    """The base URL (…/v1) of an allowed engine; RemoteEngineError when the operator does not allow ``name``."""
    url = settings.REMOTE_ENGINES.get(name)
    if not url:
        raise RemoteEngineError(NOT_ALLOWED.format(name=name))
    return url


# The API key: reversible (it must stay usable), keyed by SECRET_KEY, readable after a rotation while the
# old secret is in SECRET_KEY_FALLBACKS.

def _fernet(secret: str):
    from cryptography.fernet import Fernet

    digest = salted_hmac(_KEY_SALT, "fernet", secret=secret, algorithm="sha256").digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def api_key_encrypt(key: str) -> str:
    """The stored form of a remote engine's API key (empty stays empty)."""
    return _fernet(settings.SECRET_KEY).encrypt(key.encode()).decode() if key else ""


def api_key_decrypt(token: str, *, engine: str) -> str:
    """The API key from its stored form; RemoteEngineError in words when no secret of the studio opens it."""
    if not token:
        return ""
    from cryptography.fernet import InvalidToken, MultiFernet

    keys = MultiFernet([_fernet(secret) for secret in [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]])
    try:
        return keys.decrypt(token.encode()).decode()
    except InvalidToken:
        raise RemoteEngineError(KEY_UNREADABLE.format(name=engine)) from None


def request_headers(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


def http_timeout(*, read_timeout_s: float | None = None):
    """The timeouts of a remote-engine request, read from the settings at each request (tests patch them)."""
    import httpx2 as httpx

    return httpx.Timeout(read_timeout_s or settings.REMOTE_READ_TIMEOUT_S, connect=settings.REMOTE_CONNECT_TIMEOUT_S)


def http_client(*, read_timeout_s: float | None = None, sync: bool = False):
    """An httpx client for remote engines: short connect timeout, no redirects, no proxies from the environment."""
    import httpx2 as httpx

    kind = httpx.Client if sync else httpx.AsyncClient
    return kind(timeout=http_timeout(read_timeout_s=read_timeout_s), follow_redirects=False, trust_env=False)


def failure_message(name: str, exc: BaseException) -> str:
    """What people read when talking to engine ``name`` failed with ``exc`` (an httpx error or our own)."""
    import httpx2 as httpx

    if isinstance(exc, RemoteEngineError):
        return str(exc)
    if isinstance(exc, httpx.ConnectTimeout):
        why = f"no connection within {settings.REMOTE_CONNECT_TIMEOUT_S:g} s"
    elif isinstance(exc, httpx.ConnectError):
        why = "it refused the connection or cannot be reached"
    elif isinstance(exc, httpx.ReadTimeout):
        why = f"silent for {settings.REMOTE_READ_TIMEOUT_S:g} s"
    elif isinstance(exc, httpx.TimeoutException):
        why = "it timed out"
    elif isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
        why = "it dropped the connection"
    else:
        why = type(exc).__name__
    return (f"The remote engine “{name}” is not answering ({why}). Try again in a minute; if it keeps happening, "
            "tell the studio's operator.")


def status_message(name: str, status_code: int, body: Any, *, model: str = "") -> str:
    """What people read when engine ``name`` answered an HTTP error (``body``: its JSON or text, if any)."""
    detail = ""
    if isinstance(body, dict):
        error = body.get("error")
        detail = str(error.get("message", "")) if isinstance(error, dict) else str(error or body.get("detail", ""))
    elif isinstance(body, str):
        detail = body
    detail = f": {detail.strip()[:300]}" if detail.strip() else ""
    if 300 <= status_code < 400:
        return (f"The remote engine “{name}” answered with a redirect (HTTP {status_code}), which the studio does not "
                "follow. The operator sets the engine's final address in STUDIO_REMOTE_ENGINES.")
    if status_code in (401, 403):
        return (f"The remote engine “{name}” refused the API key (HTTP {status_code}){detail}. An admin checks the key "
                "on the product's Engine tab.")
    if status_code == 404 and model:
        return (f"The remote engine “{name}” has no model “{model}” (HTTP 404){detail}. An admin checks the model "
                "name on the product's Engine tab.")
    return f"The remote engine “{name}” answered HTTP {status_code}{detail}."


@dataclass(frozen=True)
class ConnectionCheck:
    ok: bool
    message: str
    milliseconds: int | None = None


def remote_engine_check(*, engine: str, model: str, api_key: str) -> ConnectionCheck:
    """GET {base}/models on an allowed engine: "connected: model X, 42 ms", or what went wrong in words.

    ``api_key`` is the key in clear (just typed, or decrypted from the draft); it goes only to that engine.
    """
    try:
        url = remote_engine_url(engine)
    except RemoteEngineError as exc:
        return ConnectionCheck(False, str(exc))
    started = time.monotonic()
    try:
        with http_client(sync=True) as client:
            response = client.get(f"{url}/models", headers=request_headers(api_key))
            milliseconds = round((time.monotonic() - started) * 1000)
            body = _json(response)
    except Exception as exc:  # every transport failure becomes words on the page
        return ConnectionCheck(False, failure_message(engine, exc))
    if response.status_code != 200:
        return ConnectionCheck(False, status_message(engine, response.status_code, body), milliseconds)
    served = [str(item.get("id")) for item in (body or {}).get("data", []) if isinstance(item, dict)] \
        if isinstance(body, dict) else []
    if model and served and model not in served:
        listed = ", ".join(served[:10]) + ("…" if len(served) > 10 else "")
        return ConnectionCheck(False, f"Connected to “{engine}” in {milliseconds} ms, but it has no model “{model}”. "
                                      f"It serves: {listed}.", milliseconds)
    if not model:
        return ConnectionCheck(False, f"Connected to “{engine}” in {milliseconds} ms; now name the model to use "
                                      f"(it serves: {', '.join(served[:10]) or 'none listed'}).", milliseconds)
    return ConnectionCheck(True, f"connected: model {model}, {milliseconds} ms", milliseconds)


def _json(response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text[:300]
