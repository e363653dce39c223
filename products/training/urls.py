"""Fine-tuning pages: runs under /t/<team_slug>/training/, the start page under a product."""

from __future__ import annotations

from django.urls import path

from products.training import views

# Mounted at /t/<team_slug>/training/.
urlpatterns = [
    path("", views.run_list, name="training_runs"),
    path("<int:run_id>/", views.run_detail, name="training_run"),
    path("<int:run_id>/chart/", views.run_chart, name="training_run_chart"),
    path("<int:run_id>/threshold/", views.run_threshold, name="training_run_threshold"),
    path("<int:run_id>/confusion/", views.run_confusion_cell, name="training_run_confusion_cell"),
    path("<int:run_id>/cancel/", views.run_cancel, name="training_run_cancel"),
    path("<int:run_id>/create-version/", views.run_version_create, name="training_run_version_create"),
]

# Mounted at /t/<team_slug>/products/<product_slug>/fine-tune/.
product_urlpatterns = [
    path("", views.fine_tune, name="fine_tune"),
    path("estimate/", views.fine_tune_estimate, name="fine_tune_estimate"),
    path("drop-unknown-items/", views.recommender_drop_unknown, name="recommender_drop_unknown"),
]
