"""A product's blind comparisons, mounted under /t/<team>/products/<product>/compare/."""

from __future__ import annotations

from django.urls import path

from products.comparisons import views

urlpatterns = [
    path("", views.comparison_list_page, name="comparisons"),
    path("start/", views.comparison_start, name="comparison_start"),
    path("<int:comparison_id>/", views.comparison_detail, name="comparison"),
    path("<int:comparison_id>/vote/", views.comparison_vote_page, name="comparison_vote"),
    path("<int:comparison_id>/vote/cast/", views.comparison_vote, name="comparison_vote_cast"),
]
