from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme

from studio.forms import EmailLoginForm, EmailPasswordResetForm, SignupForm
from studio.login_throttle import (
    RESET_THROTTLED,
    SIGNUP_THROTTLED,
    minutes,
    password_reset_wait_s,
    request_address,
    signup_wait_s,
)
from studio.models import Invitation
from studio.selectors import invitation_get_by_token
from studio.services import user_signup, user_signup_from_invitation

TOO_MANY_REQUESTS = 429


def safe_next(request: HttpRequest, default: str = "home") -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def _pending_invitation(request: HttpRequest) -> Invitation | None:
    token = request.POST.get("invitation") or request.GET.get("invitation")
    if not token:
        return None
    invitation = invitation_get_by_token(token=token)
    return invitation if invitation.is_pending else None


def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("home")
    invitation = _pending_invitation(request)
    form = SignupForm(request.POST or None, invited_email=invitation.email if invitation else None)
    status = 200
    if request.method == "POST" and (wait := signup_wait_s(address=request_address(request))):
        form.add_error(None, SIGNUP_THROTTLED.format(wait=minutes(wait)))
        status = TOO_MANY_REQUESTS
    elif request.method == "POST" and form.is_valid():
        try:
            if invitation:
                membership = user_signup_from_invitation(
                    invitation=invitation, password=form.cleaned_data["password"], name=form.cleaned_data["name"]
                )
                user = membership.user
            else:
                user = user_signup(**form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None if hasattr(exc, "error_dict") else "password", exc)
        else:
            login(request, user, backend="studio.auth_backends.ThrottledModelBackend")
            if invitation:
                messages.success(request, f"Welcome to {membership.team.name}.")
                return redirect("dashboard", team_slug=membership.team.slug)
            return redirect(safe_next(request))
    token = request.POST.get("invitation") or request.GET.get("invitation")
    context = {"form": form, "next": safe_next(request, ""), "invitation": invitation, "invitation_token": token}
    return render(request, "studio/signup.html", context, status=status)


class EmailLoginView(auth_views.LoginView):
    template_name = "studio/login.html"
    authentication_form = EmailLoginForm
    redirect_authenticated_user = True

    def form_invalid(self, form) -> HttpResponse:
        response = super().form_invalid(form)
        if form.has_error("__all__", code="throttled"):
            response.status_code = TOO_MANY_REQUESTS
        return response


class PasswordResetView(auth_views.PasswordResetView):
    """Asks for the email and sends a link when an account has it; says the same either way."""

    template_name = "studio/password_reset.html"
    email_template_name = "studio/password_reset_email.txt"
    subject_template_name = "studio/password_reset_subject.txt"
    form_class = EmailPasswordResetForm
    success_url = reverse_lazy("password_reset_sent")

    def form_valid(self, form) -> HttpResponse:
        wait = password_reset_wait_s(email=form.cleaned_data["email"], address=request_address(self.request))
        if wait:
            form.add_error(None, RESET_THROTTLED.format(wait=minutes(wait)))
            return self.render_to_response(self.get_context_data(form=form), status=TOO_MANY_REQUESTS)
        return super().form_valid(form)


class PasswordResetSentView(auth_views.PasswordResetDoneView):
    template_name = "studio/password_reset_sent.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "studio/password_reset_confirm.html"
    success_url = reverse_lazy("password_reset_complete")
    post_reset_login = True
    post_reset_login_backend = "studio.auth_backends.ThrottledModelBackend"


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "studio/password_reset_complete.html"
