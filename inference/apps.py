from __future__ import annotations

from django.apps import AppConfig


class InferenceConfig(AppConfig):
    name = "inference"
    verbose_name = "Inference and training"
    default_auto_field = "django.db.models.BigAutoField"
