from __future__ import annotations

from django.contrib import admin

from products.models import Dataset, Product


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "team", "updated_at"]
    list_filter = ["kind"]
    search_fields = ["name", "slug", "team__name"]


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "updated_at"]
    search_fields = ["name", "team__name"]
