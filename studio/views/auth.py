from __future__ import annotations

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
from studio.services import user_signup

TOO_MANY_REQUESTS = 429


def safe_next(request: HttpRequest, default: str = "home") -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("home")
    form = SignupForm(request.POST or None)
    status = 200
    if request.method == "POST" and (wait := signup_wait_s(address=request_address(request))):
        form.add_error(None, SIGNUP_THROTTLED.format(wait=minutes(wait)))
        status = TOO_MANY_REQUESTS
    elif request.method == "POST" and form.is_valid():
        try:
            user = user_signup(**form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None if hasattr(exc, "error_dict") else "password", exc)
        else:
            login(request, user, backend="studio.auth_backends.ThrottledModelBackend")
            return redirect(safe_next(request))
    context = {"form": form, "next": safe_next(request, "")}
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
