"""Team-scoped access for page views: resolve the membership from the URL, check the role."""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from studio.roles import Role
from studio.selectors import membership_get_for_user

CURRENT_TEAM_SESSION_KEY = "current_team"


def team_view(minimum_role: str = Role.VIEWER) -> Callable:
    """Decorate a view taking ``team_slug``: it receives ``membership`` instead.

    Non-members get 404 (a team's existence is private); members below ``minimum_role`` get 403.
    """

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @login_required
        @functools.wraps(view)
        def wrapper(request: HttpRequest, team_slug: str, *args, **kwargs) -> HttpResponse:
            membership = membership_get_for_user(user=request.user, team_slug=team_slug)
            if not membership.can(minimum_role):
                raise PermissionDenied(
                    f"This needs the {Role(minimum_role).label.lower()} role or higher in "
                    f"{membership.team.name}. Ask a team admin."
                )
            request.membership = membership
            request.session[CURRENT_TEAM_SESSION_KEY] = membership.team.slug
            return view(request, membership, *args, **kwargs)

        return wrapper

    return decorator
