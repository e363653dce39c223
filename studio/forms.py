from __future__ import annotations

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.core.exceptions import ValidationError

from studio.login_throttle import LOGIN_THROTTLED, minutes
from studio.models import LOG_RETENTION_MAX_DAYS
from studio.roles import Role


class SignupForm(forms.Form):
    name = forms.CharField(max_length=150, required=False, label="Your name")
    email = forms.EmailField(label="Work email")
    password = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 8 characters, not only digits, not a common password.",
    )

    def __init__(self, *args, invited_email: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if invited_email:  # the invitation link proved this mailbox; another address would prove nothing
            self.fields["email"].initial = invited_email
            self.fields["email"].disabled = True
            self.fields["email"].help_text = "Your invitation was sent here, so this is your account's email."


class ThrottledLoginMixin:
    """Says "try again in N minutes" when the backend refused to check the password (studio.auth_backends)."""

    def clean_username(self) -> str:
        return self.cleaned_data["username"].strip().lower()

    def clean(self):
        try:
            return super().clean()
        except ValidationError:
            wait = getattr(self.request, "login_throttled_s", 0)
            if wait:
                raise ValidationError(LOGIN_THROTTLED.format(wait=minutes(wait)), code="throttled") from None
            raise


class EmailLoginForm(ThrottledLoginMixin, AuthenticationForm):
    username = forms.EmailField(label="Email", widget=forms.EmailInput(attrs={"autofocus": True}))
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "That email and password do not match. Passwords are case-sensitive.",
    }


class AdminEmailLoginForm(ThrottledLoginMixin, AdminAuthenticationForm):
    username = forms.EmailField(label="Email", widget=forms.EmailInput(attrs={"autofocus": True}))
    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "invalid_login": "That email and password do not match a staff account. Passwords are case-sensitive.",
    }


class EmailPasswordResetForm(PasswordResetForm):
    email = forms.EmailField(
        label="Email", max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True})
    )


class TeamForm(forms.Form):
    name = forms.CharField(max_length=80, label="Team name")


class LogRetentionForm(forms.Form):
    log_retention_days = forms.IntegerField(
        required=False, min_value=1, max_value=LOG_RETENTION_MAX_DAYS, label="Keep logs for (days)",
        help_text="Answers, ratings and corrections older than this are deleted every hour. Empty: keep them all.",
        error_messages={"min_value": "Keep logs at least 1 day, or leave it empty to keep them all.",
                        "max_value": f"At most {LOG_RETENTION_MAX_DAYS:,} days; leave it empty to keep them all.",
                        "invalid": "Write a number of days, e.g. 90."},
    )


class VisitorDeleteForm(forms.Form):
    visitor = forms.CharField(max_length=64, label="Visitor id",
                              help_text="The random id the widget keeps for one visitor of your website.")


class InviteForm(forms.Form):
    email = forms.EmailField()
    role = forms.ChoiceField(choices=Role.choices, initial=Role.EDITOR)

    def __init__(self, *args, allowed_roles: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = allowed_roles


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)
