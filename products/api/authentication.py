"""``Authorization: Bearer sk_...`` for the REST API and the OpenAI-compatible endpoints."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission

from products.api.selectors import api_key_for_secret
from products.api.services import api_key_mark_used
from products.models import ApiKey

INVALID_KEY = (
    "This API key is not valid, or it was revoked. Create a key on your team's API keys page in the "
    "studio and send it as “Authorization: Bearer sk_…”."
)
MISSING_KEY = "Send your API key as “Authorization: Bearer sk_…”. Team admins create keys on the API keys page."


class ApiKeyUser:
    """``request.user`` for API calls: the key acts for its team, not for the person who made it."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    pk = id = None

    def __init__(self, api_key: ApiKey) -> None:
        self.api_key = api_key

    def __str__(self) -> str:
        return f"API key {self.api_key.prefix}…"


class ApiKeyAuthentication(BaseAuthentication):
    keyword = "bearer"

    def authenticate(self, request) -> tuple[ApiKeyUser, ApiKey] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.encode():
            return None
        if len(parts) != 2:
            raise AuthenticationFailed(INVALID_KEY)
        try:
            secret = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise AuthenticationFailed(INVALID_KEY) from None
        api_key = api_key_for_secret(secret=secret)
        if api_key is None:
            raise AuthenticationFailed(INVALID_KEY)
        api_key_mark_used(api_key=api_key)
        return ApiKeyUser(api_key), api_key

    def authenticate_header(self, request) -> str:
        # Makes DRF answer 401 (with WWW-Authenticate) rather than 403 to a missing or bad key.
        return 'Bearer realm="api"'


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "sk_…",
                "description": "A team API key, created by a team admin on the API keys page."}


class CanRead(BasePermission):
    message = MISSING_KEY

    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, ApiKey) and request.auth.allows(ApiKey.Scope.READ)


class CanGenerate(BasePermission):
    message = (
        "This API key is read-only. Create a key with the “Read and generate” scope on the API keys page "
        "to generate or rate answers."
    )

    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, ApiKey) and request.auth.allows(ApiKey.Scope.GENERATE)


class CanManage(BasePermission):
    """Changes to the team's data and spending of its training time: uploads, fine-tunes."""

    message = (
        "This API key cannot change the team's data. Create a key with the “Read, generate and manage” "
        "scope on the API keys page to upload datasets and to start fine-tunes or cancel them."
    )

    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, ApiKey) and request.auth.allows(ApiKey.Scope.MANAGE)
