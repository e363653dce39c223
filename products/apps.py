from __future__ import annotations

from django.apps import AppConfig


class ProductsConfig(AppConfig):
    name = "products"
    verbose_name = "Products and datasets"
    default_auto_field = "django.db.models.BigAutoField"
