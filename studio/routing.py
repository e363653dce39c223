"""Websocket routes of the studio's own pages (same-origin, session-authenticated)."""

from __future__ import annotations

from django.urls import path

from inference.routing import websocket_urlpatterns as inference_patterns
from studio.consumers import TeamEventsConsumer

websocket_urlpatterns = [
    path("ws/teams/<slug:team_slug>/", TeamEventsConsumer.as_asgi()),
    *inference_patterns,
]
