from __future__ import annotations

from rest_framework.exceptions import NotAuthenticated
from rest_framework.views import APIView

from products.api.authentication import MISSING_KEY, ApiKeyAuthentication, CanRead


class ApiView(APIView):
    """API-key authenticated and team-scoped: ``request.auth`` is the ApiKey, ``request.auth.team`` the team."""

    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [CanRead]

    def permission_denied(self, request, message=None, code=None):
        if request.authenticators and not request.successful_authenticator:
            raise NotAuthenticated(MISSING_KEY)
        super().permission_denied(request, message=message, code=code)
