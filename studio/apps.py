from __future__ import annotations

from django.apps import AppConfig


class StudioConfig(AppConfig):
    name = "studio"
    verbose_name = "Studio: teams and members"
    default_auto_field = "django.db.models.BigAutoField"
