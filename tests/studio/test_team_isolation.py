"""A member of team B must not see or touch anything of team A: every page answers 404."""

from __future__ import annotations

import pytest
from django.urls import reverse

from studio.roles import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def outsider_setup(client, make_team, make_member):
    team_a = make_team("Team A")
    victim = make_member(team_a, Role.EDITOR)
    team_b = make_team("Team B")
    outsider = team_b.memberships.get().user  # owner of B: the most powerful outsider
    client.force_login(outsider)
    return client, team_a, victim


TEAM_PAGES = [
    ("get", "dashboard", []),
    ("get", "members", []),
    ("post", "member_invite", []),
    ("post", "member_change_role", ["victim"]),
    ("post", "member_remove", ["victim"]),
]


@pytest.mark.parametrize(("method", "name", "extra"), TEAM_PAGES)
def test_member_of_another_team_gets_404(outsider_setup, method, name, extra):
    client, team_a, victim = outsider_setup
    args = [team_a.slug] + [victim.pk for _ in extra]
    response = getattr(client, method)(reverse(name, args=args), {"role": "owner", "email": "x@y.z"})
    assert response.status_code == 404
    victim.refresh_from_db()
    assert victim.role == Role.EDITOR
    assert team_a.invitations.count() == 0


def test_anonymous_visitor_is_sent_to_login(client, make_team):
    team = make_team()
    response = client.get(reverse("dashboard", args=[team.slug]))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_a_member_id_from_another_team_is_404_even_for_an_owner(client, make_team, make_member):
    team_a, team_b = make_team("A"), make_team("B")
    foreign = make_member(team_b, Role.VIEWER)
    client.force_login(team_a.memberships.get().user)
    response = client.post(
        reverse("member_change_role", args=[team_a.slug, foreign.pk]), {"role": "admin"}
    )
    assert response.status_code == 404
    foreign.refresh_from_db()
    assert foreign.role == Role.VIEWER
