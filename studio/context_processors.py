from __future__ import annotations

from django.http import HttpRequest

from studio.selectors import team_list_for_user


def teams(request: HttpRequest) -> dict:
    """The team switcher's list and the team the page belongs to, for the base template."""
    membership = getattr(request, "membership", None)
    return {
        "my_teams": team_list_for_user(request.user) if hasattr(request, "user") else [],
        "membership": membership,
        "team": membership.team if membership else None,
    }
