"""Websocket routes of products: generation (playground, widget) and the training run page."""

from __future__ import annotations

from django.urls import path

from products.consumers import GenerationConsumer, WidgetConsumer
from products.training.consumers import TrainingRunConsumer

# The studio's own pages: same-origin and session-authenticated (studio/asgi.py wraps them).
websocket_urlpatterns = [
    path("ws/t/<slug:team_slug>/products/<slug:product_slug>/generate/", GenerationConsumer.as_asgi()),
    path("ws/t/<slug:team_slug>/training/<int:run_id>/", TrainingRunConsumer.as_asgi()),
]

# Customers' websites: foreign origins, no session; the consumer checks the public key and Origin.
widget_websocket_urlpatterns = [
    path("ws/widget/<str:public_key>/", WidgetConsumer.as_asgi()),
]
