from __future__ import annotations

from django.contrib import admin

from inference.models import TrainingRun


@admin.register(TrainingRun)
class TrainingRunAdmin(admin.ModelAdmin):
    list_display = ["id", "product", "team", "status", "created_at"]
    list_filter = ["status"]
    search_fields = ["product__name", "team__name"]
