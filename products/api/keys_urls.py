"""The API keys page, mounted at /t/<team_slug>/api-keys/."""

from __future__ import annotations

from django.urls import path

from products.views import api_keys

urlpatterns = [
    path("", api_keys.api_key_list, name="api_keys"),
    path("<int:key_id>/revoke/", api_keys.api_key_revoke_view, name="api_key_revoke"),
]
