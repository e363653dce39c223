from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from inference.selectors import (
    engine_status_list,
    training_run_list_for_team,
    training_run_list_recently_finished,
)
from products.releases.chart import team_usage_charts
from products.releases.selectors import usage_by_day, usage_by_product
from products.selectors import dataset_list_for_team, getting_started_for_team, product_list_for_team
from studio.access import CURRENT_TEAM_SESSION_KEY, team_view
from studio.models import Membership
from studio.roles import Role, role_at_least
from studio.selectors import team_list_for_user


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """Send people where they left off: their last team, their first team, or team creation."""
    if not request.user.is_authenticated:
        return render(request, "studio/landing.html")
    teams = team_list_for_user(request.user)
    last = request.session.get(CURRENT_TEAM_SESSION_KEY)
    team = teams.filter(slug=last).first() or teams.first()
    if team is None:
        return redirect("team_new")
    return redirect("dashboard", team_slug=team.slug)


USAGE_DAYS = 30


@require_GET
@team_view()
def dashboard(request: HttpRequest, membership: Membership) -> HttpResponse:
    team = membership.team
    steps = getting_started_for_team(team=team) if role_at_least(membership.role, Role.EDITOR) else []
    context = {
        # Shown until every step is done (a viewer cannot do them, so sees none).
        "getting_started": steps if not all(step.done for step in steps) else [],
        "products": product_list_for_team(team=team)[:8],
        "datasets": dataset_list_for_team(team=team)[:8],
        "training_runs": training_run_list_for_team(team=team)[:8],
        # The live notice (team_events.js) reaches open pages only; these keep saying it after a reload.
        "finished_runs": training_run_list_recently_finished(team=team),
        # Admins see how the engines behind every product are doing (the same for every team).
        "engines": engine_status_list() if role_at_least(membership.role, Role.ADMIN) else None,
        # Team usage over the last 30 days, from the daily rollups (a few rows per day, however busy the team).
        "usage_charts": team_usage_charts(usage_by_day(team=team, days=USAGE_DAYS)),
        "usage_products": usage_by_product(team=team, days=USAGE_DAYS),
    }
    template = "studio/dashboard.html#dashboard-panels" if request.htmx else "studio/dashboard.html"
    return render(request, template, context)
