"""Dataset pages, mounted under /t/<team_slug>/datasets/."""

from __future__ import annotations

from django.urls import path

from products.datasets import views

urlpatterns = [
    path("", views.dataset_list, name="dataset_list"),
    path("upload/", views.dataset_upload, name="dataset_upload"),
    path("uploads/<int:upload_id>/", views.upload_review, name="dataset_upload_review"),
    path("uploads/<int:upload_id>/fix/", views.upload_fix, name="dataset_upload_fix"),
    path("uploads/<int:upload_id>/discard/", views.upload_discard, name="dataset_upload_discard"),
    path("<int:dataset_id>/", views.dataset_detail, name="dataset_detail"),
    path("<int:dataset_id>/upload/", views.dataset_upload, name="dataset_version_upload"),
    path("<int:dataset_id>/v<int:number>/", views.version_detail, name="dataset_version"),
    path("<int:dataset_id>/v<int:number>/download/", views.version_download, name="dataset_version_download"),
    path("<int:dataset_id>/v<int:number>/clean/", views.version_clean, name="dataset_version_clean"),
    path("<int:dataset_id>/v<int:number>/remap/", views.version_remap, name="dataset_version_remap"),
    path("<int:dataset_id>/v<int:number>/delete/", views.version_delete, name="dataset_version_delete"),
]
