from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.views import LogoutView
from django.urls import include, path

from products.training import urls as training_urls
from studio.views import auth, dashboard, teams

team_patterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("members/", teams.members, name="members"),
    path("members/invite/", teams.member_invite, name="member_invite"),
    path("members/<int:member_id>/role/", teams.member_change_role, name="member_change_role"),
    path("members/<int:member_id>/remove/", teams.member_remove, name="member_remove"),
    path("audit/", teams.audit_log, name="audit_log"),
    path("settings/", teams.team_settings, name="team_settings"),
    path("settings/delete-visitor/", teams.team_visitor_delete, name="team_visitor_delete"),
    path("products/", include("products.urls")),
    path("datasets/", include("products.datasets.urls")),
    path("api-keys/", include("products.api.keys_urls")),
    path("models/", include("products.base_models.urls")),
    path("training/", include("products.training.urls")),
    path("products/<slug:product_slug>/fine-tune/", include(training_urls.product_urlpatterns)),
]

urlpatterns = [
    path("", dashboard.home, name="home"),
    path("accounts/signup/", auth.signup, name="signup"),
    path("accounts/login/", auth.EmailLoginView.as_view(), name="login"),
    path("accounts/logout/", LogoutView.as_view(), name="logout"),
    path("accounts/password-reset/", auth.PasswordResetView.as_view(), name="password_reset"),
    path("accounts/password-reset/sent/", auth.PasswordResetSentView.as_view(), name="password_reset_sent"),
    path(
        "accounts/reset/<uidb64>/<token>/", auth.PasswordResetConfirmView.as_view(), name="password_reset_confirm"
    ),
    path("accounts/reset/done/", auth.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("teams/new/", teams.team_new, name="team_new"),
    path("invite/<str:token>/", teams.invitation_accept_view, name="invitation_accept"),
    path("t/<slug:team_slug>/", include(team_patterns)),
    path("admin/", admin.site.urls),
    path("api/", include("products.api.urls")),
    path("v1/", include("products.api.openai_urls")),
    path("embed/", include("products.embed.urls")),
]
