"""The Models page, mounted under /t/<team_slug>/models/."""

from __future__ import annotations

from django.urls import path

from products.base_models import views

urlpatterns = [
    path("", views.model_list, name="model_list"),
    path("register/", views.model_register, name="model_register"),
    path("<int:model_id>/unregister/", views.model_unregister, name="model_unregister"),
]
