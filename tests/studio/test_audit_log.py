"""The audit log records who created or revoked API keys, changed roles and published versions; admins read it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from products.models import ApiKey, Product
from products.services import product_create, product_version_create
from studio.models import AuditEvent
from studio.roles import Role

pytestmark = pytest.mark.django_db


def _rows(client, team) -> list[tuple[str, str, str]]:
    response = client.get(reverse("audit_log", args=[team.slug]))
    assert response.status_code == 200
    return [(e.actor_email, e.get_action_display(), e.summary) for e in response.context["events"]]


def test_key_role_and_publish_changes_made_on_the_pages_are_logged_with_who_did_them(owner_client, make_member):
    team, owner = owner_client.team, owner_client.user
    keys_url = reverse("api_keys", args=[team.slug])
    owner_client.post(keys_url, {"name": "Shop backend", "scope": "generate"})
    key = ApiKey.objects.get()
    owner_client.post(reverse("api_key_revoke", args=[team.slug, key.pk]))
    owner_client.post(reverse("api_key_revoke", args=[team.slug, key.pk]))  # twice: one revocation
    editor = make_member(team, Role.EDITOR)
    owner_client.post(reverse("member_change_role", args=[team.slug, editor.pk]), {"role": Role.ADMIN})
    product = product_create(team=team, user=owner, kind_id="copywriting", template_id="ad-headlines", name="Ads")
    version = product_version_create(product=product, user=owner)
    owner_client.post(reverse("version_publish", args=[team.slug, product.slug, version.number]))

    assert _rows(owner_client, team) == [
        (owner.email, "Published a version", "Ads v1"),
        (owner.email, "Changed a member's role", f"{editor.user.email}: Editor → Admin"),
        (owner.email, "Revoked an API key", f"“Shop backend” ({key.prefix}…)"),
        (owner.email, "Created an API key", f"“Shop backend” ({key.prefix}…), read and generate"),
    ]
    page = owner_client.get(reverse("audit_log", args=[team.slug])).content.decode()
    assert "Changed a member&#x27;s role" in page and f"{editor.user.email}: Editor → Admin" in page


@pytest.mark.parametrize("role", [Role.EDITOR, Role.VIEWER])
def test_only_admins_and_owners_see_the_audit_log(client, make_team, make_member, role):
    team = make_team("Acme")
    member = make_member(team, role)
    client.force_login(member.user)
    response = client.get(reverse("audit_log", args=[team.slug]))
    assert response.status_code == 403
    assert "This needs the admin role or higher in Acme. Ask a team admin." in response.content.decode()


def test_another_teams_log_is_not_found(owner_client, make_team):
    other = make_team("Rival")
    AuditEvent.objects.create(team=other, action=AuditEvent.Action.VERSION_PUBLISHED, summary="secret v1")
    assert owner_client.get(reverse("audit_log", args=[other.slug])).status_code == 404
    assert _rows(owner_client, owner_client.team) == []


def test_loading_a_version_renaming_archiving_restoring_and_deleting_a_product_are_logged(owner_client):
    team, owner = owner_client.team, owner_client.user
    product = product_create(team=team, user=owner, kind_id="copywriting", template_id="ad-headlines", name="Ads")
    version = product_version_create(product=product, user=owner)
    args = [team.slug, product.slug]
    owner_client.post(reverse("version_load", args=[*args, version.number]))
    owner_client.post(reverse("product_rename", args=args), {"name": "Spring ads"})
    owner_client.post(reverse("product_rename", args=args), {"name": "Spring ads"})  # unchanged: not logged
    owner_client.post(reverse("product_archive", args=args))
    owner_client.post(reverse("product_restore", args=args))
    owner_client.post(reverse("product_delete", args=args), {"confirm": "Spring ads"})

    assert not Product.objects.filter(pk=product.pk).exists()
    assert _rows(owner_client, team) == [
        (owner.email, "Deleted a product", "Spring ads"),
        (owner.email, "Restored a product", "Spring ads"),
        (owner.email, "Archived a product", "Spring ads"),
        (owner.email, "Renamed a product", "Ads → Spring ads"),
        (owner.email, "Loaded a version into the draft", "Ads v1"),
    ]
