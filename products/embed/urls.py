"""Public widget endpoints, mounted at /embed/ (no session: the public key and the Origin decide)."""

from __future__ import annotations

from django.urls import path

from products.views import embed

urlpatterns = [
    path("<str:public_key>.js", embed.widget_script_view, name="widget_script"),
    path("<str:public_key>/feedback/", embed.widget_feedback, name="widget_feedback"),
    path("<str:public_key>/allowed/", embed.widget_allowed, name="widget_allowed"),
]
