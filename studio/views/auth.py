from __future__ import annotations

from django.contrib.auth import login
from django.contrib.auth.views import LoginView
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme

from studio.forms import EmailLoginForm, SignupForm
from studio.services import user_signup


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
    if request.method == "POST" and form.is_valid():
        try:
            user = user_signup(**form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None if hasattr(exc, "error_dict") else "password", exc)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect(safe_next(request))
    return render(request, "studio/signup.html", {"form": form, "next": safe_next(request, "")})


class EmailLoginView(LoginView):
    template_name = "studio/login.html"
    authentication_form = EmailLoginForm
    redirect_authenticated_user = True
