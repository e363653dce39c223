from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from studio.models import Invitation, Membership, Team
from studio.roles import Role

pytestmark = pytest.mark.django_db


def test_creating_a_team_makes_the_creator_owner_and_opens_its_dashboard(client, make_user):
    user = make_user()
    client.force_login(user)
    response = client.post(reverse("team_new"), {"name": "Marketing Crew"}, follow=True)
    team = Team.objects.get()
    assert team.slug == "marketing-crew"
    assert Membership.objects.get(team=team).role == Role.OWNER
    assert response.redirect_chain[-1][0] == reverse("dashboard", args=[team.slug])
    page = response.content.decode()
    assert "No products yet" in page and "No datasets yet" in page and "No training runs yet" in page


def test_two_teams_with_the_same_name_get_distinct_slugs(make_team):
    assert make_team("Acme").slug == "acme"
    assert make_team("Acme").slug == "acme-2"


def _invite(client, team, email="new@example.com", role=Role.EDITOR):
    return client.post(reverse("member_invite", args=[team.slug]), {"email": email, "role": role})


def _link_from(response) -> str:
    return re.search(r'value="(http://testserver/invite/[^"]+)"', response.content.decode()).group(1)


def test_invitation_link_is_shown_once_emailed_and_joins_with_the_role(
    owner_client, make_user, django_capture_on_commit_callbacks
):
    team = owner_client.team
    with django_capture_on_commit_callbacks(execute=True):
        response = _invite(owner_client, team, "new@example.com", Role.ADMIN)
    link = _link_from(response)
    assert len(mail.outbox) == 1 and link in mail.outbox[0].body
    assert mail.outbox[0].to == ["new@example.com"]
    invitation = Invitation.objects.get()
    assert link.rsplit("/", 2)[-2] not in invitation.token_hash  # only a hash is stored

    invitee = make_user("new@example.com")
    owner_client.logout()
    owner_client.force_login(invitee)
    page = owner_client.get(link)
    assert "invited <strong>new@example.com</strong>" in page.content.decode()
    joined = owner_client.post(link, follow=True)
    assert joined.redirect_chain[-1][0] == reverse("dashboard", args=[team.slug])
    assert Membership.objects.get(team=team, user=invitee).role == Role.ADMIN
    again = owner_client.post(link, follow=True)
    assert "already been used or has expired" in again.content.decode()


def test_expired_invitation_cannot_be_used(owner_client, make_user):
    link = _link_from(_invite(owner_client, owner_client.team))
    Invitation.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    owner_client.force_login(make_user())
    response = owner_client.post(link, follow=True)
    assert "already been used or has expired" in response.content.decode()
    assert owner_client.team.memberships.count() == 1


def test_inviting_an_existing_member_says_so(owner_client):
    response = _invite(owner_client, owner_client.team, owner_client.user.email)
    assert "is already a member of Acme" in response.content.decode()
    assert not Invitation.objects.exists()


@pytest.mark.parametrize("role", [Role.VIEWER, Role.EDITOR])
def test_viewers_and_editors_cannot_invite(client, make_team, make_member, role):
    team = make_team()
    client.force_login(make_member(team, role).user)
    assert _invite(client, team).status_code == 403
    assert not Invitation.objects.exists()


def test_admin_cannot_invite_or_make_an_owner(client, make_team, make_member):
    team = make_team()
    admin = make_member(team, Role.ADMIN)
    editor = make_member(team, Role.EDITOR)
    client.force_login(admin.user)
    assert _invite(client, team, role=Role.OWNER).status_code == 200
    assert not Invitation.objects.exists()
    client.post(reverse("member_change_role", args=[team.slug, editor.pk]), {"role": Role.OWNER})
    editor.refresh_from_db()
    assert editor.role == Role.EDITOR


def test_owner_changes_a_role(owner_client, make_member):
    member = make_member(owner_client.team, Role.VIEWER)
    owner_client.post(
        reverse("member_change_role", args=[owner_client.team.slug, member.pk]), {"role": "editor"}
    )
    member.refresh_from_db()
    assert member.role == Role.EDITOR


def test_the_last_owner_cannot_leave_or_be_demoted(owner_client):
    team = owner_client.team
    me = team.memberships.get()
    response = owner_client.post(reverse("member_remove", args=[team.slug, me.pk]), follow=True)
    assert "A team needs at least one owner" in response.content.decode()
    assert team.memberships.filter(pk=me.pk).exists()


def test_a_member_can_leave_a_team(client, make_team, make_member):
    team = make_team()
    member = make_member(team, Role.VIEWER)
    client.force_login(member.user)
    response = client.post(reverse("member_remove", args=[team.slug, member.pk]), follow=True)
    assert "You left Acme." in response.content.decode()
    assert not team.memberships.filter(pk=member.pk).exists()


def test_team_switcher_lists_only_my_teams(client, make_team, make_member, make_user):
    me = make_user()
    mine = [make_team("Alpha", owner=me), make_team("Beta")]
    make_member(mine[1], Role.VIEWER, user=me)
    make_team("Gamma")
    client.force_login(me)
    page = client.get(reverse("dashboard", args=["alpha"])).content.decode()
    switcher = page.split('id="team-switcher"')[1].split("</details>")[0]
    assert "Alpha" in switcher and "Beta" in switcher and "Gamma" not in switcher


def test_home_returns_to_the_last_team_used(client, make_user, make_team):
    me = make_user()
    make_team("Alpha", owner=me)
    make_team("Beta", owner=me)
    client.force_login(me)
    client.get(reverse("dashboard", args=["beta"]))
    assert client.get(reverse("home")).url == reverse("dashboard", args=["beta"])


def test_an_invitation_link_does_not_let_another_account_join_as_it_is(owner_client, make_user):
    link = _link_from(_invite(owner_client, owner_client.team, "new@example.com"))
    intruder = make_user("other@example.com")
    owner_client.force_login(intruder)
    response = owner_client.post(link)
    page = response.content.decode()
    assert response.status_code == 200
    assert "You are signed in as other@example.com, and the invitation was sent to new@example.com." in page
    assert "Join and make new@example.com my email" in page  # joining takes the email: the person must agree
    assert not Membership.objects.filter(user=intruder).exists()
    assert Invitation.objects.get().is_pending


def test_the_link_proves_the_mailbox_so_an_account_may_take_the_invited_email(owner_client, make_user):
    link = _link_from(_invite(owner_client, owner_client.team, "new@example.com"))
    person = make_user("personal@example.com")
    owner_client.force_login(person)
    joined = owner_client.post(link, {"take_email": "1"}, follow=True)
    assert joined.redirect_chain[-1][0] == reverse("dashboard", args=[owner_client.team.slug])
    person.refresh_from_db()
    assert (person.email, person.username) == ("new@example.com", "new@example.com")
    assert Membership.objects.get(user=person, team=owner_client.team).role == Role.EDITOR


def test_an_account_cannot_take_an_invited_email_another_account_has(owner_client, make_user):
    link = _link_from(_invite(owner_client, owner_client.team, "new@example.com"))
    make_user("new@example.com")
    other = make_user("other@example.com")
    owner_client.force_login(other)
    response = owner_client.post(link, {"take_email": "1"}, follow=True)
    assert (
        "This invitation is for new@example.com, which has its own account. "
        "Log out, then log in as new@example.com to join." in response.content.decode()
    )
    other.refresh_from_db()
    assert other.email == "other@example.com"
    assert not Membership.objects.filter(user=other).exists() and Invitation.objects.get().is_pending


def test_signing_up_from_an_invitation_uses_the_invited_email_and_lands_in_the_team(client, owner_client, settings):
    link = _link_from(_invite(owner_client, owner_client.team, "new@example.com", Role.VIEWER))
    token = link.rsplit("/", 2)[-2]
    client.logout()
    invite_page = client.get(link).content.decode()
    signup_url = f"{reverse('signup')}?invitation={token}"
    assert f'href="{signup_url}"' in invite_page
    form = client.get(signup_url).content.decode()
    assert 'value="new@example.com"' in form and "disabled" in form
    # A typed address is ignored: only the invited mailbox was proven.
    response = client.post(
        signup_url, {"email": "attacker@example.com", "password": "correct-horse-battery-staple"}, follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("dashboard", args=[owner_client.team.slug])
    assert "Welcome to Acme." in response.content.decode()
    member = Membership.objects.get(team=owner_client.team, role=Role.VIEWER)
    assert member.user.email == "new@example.com"
    assert not get_user_model().objects.filter(email="attacker@example.com").exists()
    assert not Invitation.objects.get().is_pending


def test_signing_up_from_an_invitation_whose_email_has_an_account_says_log_in(client, owner_client, make_user):
    link = _link_from(_invite(owner_client, owner_client.team, "new@example.com"))
    make_user("new@example.com")
    client.logout()
    response = client.post(
        f"{reverse('signup')}?invitation={link.rsplit('/', 2)[-2]}", {"password": "correct-horse-battery-staple"}
    )
    assert "An account with this email already exists. Log in instead." in response.content.decode()
    assert owner_client.team.memberships.count() == 1 and Invitation.objects.get().is_pending
