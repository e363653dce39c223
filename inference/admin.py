from __future__ import annotations

from django.contrib import admin

from inference.models import (
    EvaluationReport,
    ModelArtifact,
    TrainingLogEntry,
    TrainingMetric,
    TrainingRun,
    TrainingRunInput,
)


class TrainingRunInputInline(admin.TabularInline):
    model = TrainingRunInput
    extra = 0


@admin.register(TrainingRun)
class TrainingRunAdmin(admin.ModelAdmin):
    list_display = ["id", "product", "team", "method", "status", "queue", "priority", "step", "total_steps", "attempts",
                    "worker", "created_at"]
    list_filter = ["status", "queue", "method"]
    inlines = [TrainingRunInputInline]
    search_fields = ["product__name", "team__name"]


@admin.register(ModelArtifact)
class ModelArtifactAdmin(admin.ModelAdmin):
    list_display = ["id", "run", "team", "base_model", "size_bytes", "sha256", "created_at"]
    readonly_fields = ["sha256", "size_bytes", "files", "path"]


admin.site.register([EvaluationReport, TrainingLogEntry, TrainingMetric])
