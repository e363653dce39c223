"""ASGI entry point: HTTP through Django, websockets through Channels.

Studio websockets only accept the site's own origins (AllowedHostsOriginValidator) and a session.
The embed widget's socket is the exception: customers' websites are foreign origins, so it is
routed before that validator and its consumer checks the public key and the product's allow-list.
"""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")

from django.core.asgi import get_asgi_application  # noqa: E402

django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402
from django.urls import re_path  # noqa: E402
from django.utils.module_loading import import_string  # noqa: E402

from products.routing import widget_websocket_urlpatterns  # noqa: E402
from studio.request_threads import RequestThreads  # noqa: E402
from studio.routing import websocket_urlpatterns  # noqa: E402

# Requests' sync code on reused threads, which keep their database connections (studio/request_threads.py).
http_application = RequestThreads(django_asgi_app)
studio_websockets = AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))

application = ProtocolTypeRouter(
    {
        "http": http_application,
        "websocket": URLRouter([
            *widget_websocket_urlpatterns,  # no session, no same-origin rule: see the module docstring
            re_path(r"^", studio_websockets),
        ]),
    }
)

if settings.EMBEDDED_WORKERS:
    # The workers belong to the worker tier, which the web tier never imports statically (import-linter
    # checks it): the middleware that starts them is named by a setting, as Django names its own
    # middleware, and loaded only when this process is to run them.
    application = import_string(settings.EMBEDDED_WORKERS_MIDDLEWARE)(application)
