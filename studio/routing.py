"""Websocket routes of the studio's own pages (same-origin, session-authenticated)."""

from __future__ import annotations

from django.urls import path

from products.routing import websocket_urlpatterns as product_patterns
from studio.consumers import TeamEventsConsumer

websocket_urlpatterns = [
    path("ws/teams/<slug:team_slug>/", TeamEventsConsumer.as_asgi()),
    *product_patterns,
]
