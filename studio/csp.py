"""Content-Security-Policy for every response: strict on the studio's pages, looser where vendored UIs need it.

The studio's own pages run no inline script or style (behaviour lives in static files, attached by
data attributes; htmx is told not to inject its style or evaluate attributes), so their policy allows
only the studio's own origin. The API reference pages (Swagger UI, Redoc) and Django's admin are
third-party UIs that set inline styles (and Redoc starts a worker from a blob), so they get their own
policy. No page may be framed: nothing of the studio is meant to be embedded except the widget, which
is a script, not a frame.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

COMMON = {
    "default-src": "'self'",
    "script-src": "'self'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
STUDIO = COMMON | {"style-src": "'self'"}
API_DOCS = COMMON | {"style-src": "'self' 'unsafe-inline'", "worker-src": "'self' blob:", "font-src": "'self' data:"}
ADMIN = COMMON | {"style-src": "'self' 'unsafe-inline'"}
DOCS_PREFIXES = ("/api/docs/", "/api/redoc/")
ADMIN_PREFIX = "/admin/"


def policy_for(request: HttpRequest) -> dict[str, str]:
    if request.path.startswith(DOCS_PREFIXES):
        directives = API_DOCS
    elif request.path.startswith(ADMIN_PREFIX):
        directives = ADMIN
    else:
        directives = STUDIO
    # 'self' covers same-origin websockets in current browsers; the explicit ws/wss source covers older ones.
    host = request.get_host()
    return directives | {"connect-src": f"'self' ws://{host} wss://{host}"}


def policy_header(directives: dict[str, str]) -> str:
    return "; ".join(f"{name} {value}" for name, value in directives.items())


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:  # a view that set its own keeps it
            response["Content-Security-Policy"] = policy_header(policy_for(request))
        return response
