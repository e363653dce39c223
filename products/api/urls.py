"""The REST API, mounted at /api/v1/; the schema and docs pages at /api/."""

from __future__ import annotations

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from products.api.views.datasets import DatasetDetailApi, DatasetListApi, DatasetVersionCreateApi
from products.api.views.generate import ProductGenerateApi
from products.api.views.generations import (
    GenerationDetailApi,
    GenerationExportApi,
    GenerationFeedbackApi,
    GenerationListApi,
    ProductFeedbackApi,
)
from products.api.views.products import ProductDetailApi, ProductListApi, VersionDetailApi, VersionListApi
from products.api.views.training import (
    ProductTrainingRunsApi,
    TrainingRunCancelApi,
    TrainingRunDetailApi,
    TrainingRunListApi,
)

v1_patterns = [
    path("products/", ProductListApi.as_view(), name="api_products"),
    path("products/<slug:slug>/", ProductDetailApi.as_view(), name="api_product"),
    path("products/<slug:slug>/versions/", VersionListApi.as_view(), name="api_versions"),
    path("products/<slug:slug>/versions/<int:number>/", VersionDetailApi.as_view(), name="api_version"),
    path("products/<slug:slug>/generate/", ProductGenerateApi.as_view(), name="api_generate"),
    path("products/<slug:slug>/feedback/", ProductFeedbackApi.as_view(), name="api_product_feedback"),
    path("products/<slug:slug>/generations/", GenerationListApi.as_view(), name="api_generations"),
    path("products/<slug:slug>/generations/export/", GenerationExportApi.as_view(), name="api_generations_export"),
    path("products/<slug:slug>/training-runs/", ProductTrainingRunsApi.as_view(), name="api_product_training_runs"),
    path("training-runs/", TrainingRunListApi.as_view(), name="api_training_runs"),
    path("training-runs/<int:run_id>/", TrainingRunDetailApi.as_view(), name="api_training_run"),
    path("training-runs/<int:run_id>/cancel/", TrainingRunCancelApi.as_view(), name="api_training_run_cancel"),
    path("generations/<int:generation_id>/", GenerationDetailApi.as_view(), name="api_generation"),
    path("generations/<int:generation_id>/feedback/", GenerationFeedbackApi.as_view(), name="api_generation_feedback"),
    path("datasets/", DatasetListApi.as_view(), name="api_datasets"),
    path("datasets/<int:dataset_id>/", DatasetDetailApi.as_view(), name="api_dataset"),
    path("datasets/<int:dataset_id>/versions/", DatasetVersionCreateApi.as_view(), name="api_dataset_versions"),
]

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[]), name="api_schema"),
    # The split view serves its start-up script as a file, so the page needs no inline script (studio/csp.py).
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api_schema", authentication_classes=[],
                                                      permission_classes=[]), name="api_docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api_schema", authentication_classes=[],
                                                permission_classes=[]), name="api_redoc"),
    path("v1/", include(v1_patterns)),
]
