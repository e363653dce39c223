"""API keys: stored hashed, shown once, scoped, revocable, and managed by team admins only."""

from __future__ import annotations

import hashlib

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from products.api.authentication import INVALID_KEY, MISSING_KEY
from products.api.services import api_key_revoke
from products.models import ApiKey
from studio.roles import Role
from tests.api.conftest import INPUTS, bearer

pytestmark = pytest.mark.django_db


def test_created_key_is_stored_only_as_a_hash_with_a_display_prefix(make_team, make_key):
    team = make_team("Acme")
    secret = make_key(team, scope=ApiKey.Scope.GENERATE, name="Shop backend")
    key = ApiKey.objects.get()
    assert secret.startswith("sk_") and len(secret) > 40
    assert key.hashed_secret == hashlib.sha256(secret.encode()).hexdigest()
    assert key.prefix == secret[:11] and secret not in {key.name, key.prefix, key.hashed_secret}
    assert (key.team, key.name, key.scope, key.revoked_at) == (team, "Shop backend", "generate", None)


def test_a_valid_key_reads_and_its_last_use_is_recorded(make_team, make_key, make_product):
    team = make_team("Acme")
    make_product(team)
    secret = make_key(team)
    response = bearer(secret).get("/api/v1/products/")
    assert response.status_code == 200
    assert [p["slug"] for p in response.json()["results"]] == ["headlines"]
    assert ApiKey.objects.get().last_used_at is not None


def test_missing_and_unknown_keys_get_401_with_a_sentence_that_names_the_fix(make_team):
    make_team("Acme")
    missing = APIClient().get("/api/v1/products/")
    assert missing.status_code == 401 and missing.json() == {"detail": MISSING_KEY}
    assert missing["WWW-Authenticate"] == 'Bearer realm="api"'
    unknown = bearer("sk_not-a-real-key").get("/api/v1/products/")
    assert unknown.status_code == 401 and unknown.json() == {"detail": INVALID_KEY}


def test_revoked_key_is_refused_on_the_next_call(make_team, make_key, make_product):
    team = make_team("Acme")
    make_product(team)
    secret = make_key(team)
    client = bearer(secret)
    assert client.get("/api/v1/products/").status_code == 200
    api_key_revoke(api_key=ApiKey.objects.get())
    response = client.get("/api/v1/products/")
    assert response.status_code == 401 and response.json() == {"detail": INVALID_KEY}
    completions = client.post("/v1/chat/completions", {"model": "headlines", "messages": [
        {"role": "user", "content": "hi"}]}, format="json")
    assert completions.status_code == 401
    assert completions.json()["error"]["type"] == "authentication_error"


def test_read_only_key_cannot_generate_or_rate(make_team, make_key, make_product):
    team = make_team("Acme")
    product = make_product(team)
    client = bearer(make_key(team, scope=ApiKey.Scope.READ))
    assert client.get(f"/api/v1/products/{product.slug}/").status_code == 200
    generate = client.post(f"/api/v1/products/{product.slug}/generate/", {"inputs": INPUTS}, format="json")
    assert generate.status_code == 403 and "read-only" in generate.json()["detail"]
    chat = client.post("/v1/chat/completions", {"model": product.slug, "messages": [
        {"role": "user", "content": "hi"}]}, format="json")
    assert chat.status_code == 403 and chat.json()["error"]["type"] == "permission_error"
    assert not product.generations.exists()


def test_admin_creates_a_key_sees_it_once_then_only_its_prefix(client, make_team):
    team = make_team("Acme")
    owner = team.memberships.get().user
    client.force_login(owner)
    url = reverse("api_keys", args=[team.slug])
    response = client.post(url, {"name": "Shop backend", "scope": "read"})
    assert response.status_code == 200
    secret = response.context["created"].secret
    assert secret in response.content.decode() and "Copy your new key now" in response.content.decode()
    key = ApiKey.objects.get()
    assert (key.name, key.scope, key.created_by) == ("Shop backend", "read", owner)
    listing = client.get(url).content.decode()
    assert secret not in listing and f"{key.prefix}…" in listing and "Read only" in listing


def test_admin_revokes_a_key_from_the_page(client, make_team, make_key):
    team = make_team("Acme")
    make_key(team)
    client.force_login(team.memberships.get().user)
    key = ApiKey.objects.get()
    response = client.post(reverse("api_key_revoke", args=[team.slug, key.pk]), follow=True)
    assert "is revoked" in response.content.decode()
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_key_name_is_required_with_a_clear_message(client, make_team):
    team = make_team("Acme")
    client.force_login(team.memberships.get().user)
    response = client.post(reverse("api_keys", args=[team.slug]), {"name": "", "scope": "generate"})
    assert "This field is required." in response.content.decode()
    assert not ApiKey.objects.exists()


@pytest.mark.parametrize("role", [Role.EDITOR, Role.VIEWER])
def test_only_admins_see_or_manage_keys(client, make_team, make_member, make_key, role):
    team = make_team("Acme")
    make_key(team)
    member = make_member(team, role)
    client.force_login(member.user)
    assert client.get(reverse("api_keys", args=[team.slug])).status_code == 403
    assert client.post(reverse("api_keys", args=[team.slug]), {"name": "x", "scope": "read"}).status_code == 403
    key = ApiKey.objects.get()
    assert client.post(reverse("api_key_revoke", args=[team.slug, key.pk])).status_code == 403
    key.refresh_from_db()
    assert key.revoked_at is None and ApiKey.objects.count() == 1


def test_an_admin_of_another_team_cannot_revoke_this_teams_key(client, make_team, make_key):
    team, other = make_team("Acme"), make_team("Other")
    make_key(team)
    client.force_login(other.memberships.get().user)
    key = ApiKey.objects.get()
    assert client.post(reverse("api_key_revoke", args=[other.slug, key.pk])).status_code == 404
    assert client.post(reverse("api_key_revoke", args=[team.slug, key.pk])).status_code == 404
    key.refresh_from_db()
    assert key.revoked_at is None
