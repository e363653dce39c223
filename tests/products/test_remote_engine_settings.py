"""The Engine tab: admins point a product at an engine the operator allowed, by name; the API key is
stored encrypted, frozen into versions, and never shown again; editors, viewers and other teams cannot change it.

Connection tests against a real server are in tests/inference/test_remote_engine.py (a live second studio);
here "Test connection" meets a port nothing listens on, which is a real refused connection.
"""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError

from products.api.services import api_key_create
from products.generation import generation_request
from products.kinds import get_kind
from products.models import Product
from products.remote_engines import NOT_ALLOWED, api_key_decrypt
from products.services import product_create, product_engine_update, product_version_create, product_version_publish
from studio.env import remote_engines_parse
from studio.roles import Role
from tests.api.conftest import bearer
from tests.live import free_port

pytestmark = pytest.mark.django_db

KEY = "sk-remote-very-secret-4711"
INPUTS = {"product": "Trail running shoes", "benefit": "dry feet", "tone": "bold"}


@pytest.fixture
def engines(settings):
    settings.REMOTE_ENGINES = {"gpu": f"http://127.0.0.1:{free_port()}/v1", "cpu": "http://127.0.0.1:9/v1"}
    return settings.REMOTE_ENGINES


@pytest.fixture
def product(owner_client):
    return product_create(team=owner_client.team, user=owner_client.user, kind_id="copywriting",
                          template_id="ad-headlines")


def _url(product: Product, name: str = "engine") -> str:
    suffix = {"engine": "engine/", "engine_check": "engine/check/"}[name]
    return f"/t/{product.team.slug}/products/{product.slug}/{suffix}"


def test_allow_list_reads_name_url_pairs_and_refuses_bad_entries_naming_the_fix():
    assert remote_engines_parse(" gpu=https://gpu-host:8000/v1/ , local=http://127.0.0.1:9000/v1") == {
        "gpu": "https://gpu-host:8000/v1", "local": "http://127.0.0.1:9000/v1"}
    assert remote_engines_parse("") == {}
    with pytest.raises(RuntimeError, match=r"'https://gpu-host/v1' is not name=URL .* STUDIO_REMOTE_ENGINES=gpu="):
        remote_engines_parse("https://gpu-host/v1")
    with pytest.raises(RuntimeError, match="must start with http:// or https://"):
        remote_engines_parse("gpu=file:///etc/passwd")
    with pytest.raises(RuntimeError, match="may not carry a user, a password"):
        remote_engines_parse("gpu=https://admin:pw@gpu-host/v1")
    with pytest.raises(RuntimeError, match="listed twice"):
        remote_engines_parse("gpu=https://a/v1,gpu=https://b/v1")


def test_admin_points_the_draft_at_an_allowed_engine_and_the_key_is_stored_encrypted_and_never_shown(
    owner_client, product, engines,
):
    response = owner_client.post(_url(product), {"remote_engine": "gpu", "remote_model": "qwen2.5-1.5b",
                                                 "api_key": KEY})
    assert response.status_code == 302
    product.refresh_from_db()
    assert (product.remote_engine, product.remote_model) == ("gpu", "qwen2.5-1.5b")
    stored = product.remote_api_key
    assert stored and KEY not in stored and api_key_decrypt(stored, engine="gpu") == KEY

    page = owner_client.get(_url(product)).content.decode()
    assert "An API key is set." in page and KEY not in page and stored not in page
    assert 'name="api_key"' in page and f'value="{KEY}"' not in page

    # Saving again without a key keeps it; the version freezes engine, model and the encrypted key.
    owner_client.post(_url(product), {"remote_engine": "gpu", "remote_model": "qwen2.5-7b"})
    product.refresh_from_db()
    assert product.remote_api_key == stored and product.remote_model == "qwen2.5-7b"
    version = product_version_create(product=product, user=owner_client.user, note="remote")
    product_version_publish(product=product, version=version)
    assert (version.remote_engine, version.remote_model, version.remote_api_key) == ("gpu", "qwen2.5-7b", stored)

    # The worker request names the engine and carries the key only encrypted.
    request = generation_request(kind=get_kind(product.kind), config=version, inputs=INPUTS).request
    assert request.remote == {"engine": "gpu", "model": "qwen2.5-7b", "api_key": stored}
    assert KEY not in json.dumps(request.to_dict())

    secret = api_key_create(team=product.team, user=owner_client.user, name="Reader", scope="manage").secret
    api = bearer(secret)
    pages = [owner_client.get(f"/t/{product.team.slug}/products/{product.slug}/{path}").content.decode()
             for path in ("", "versions/", "engine/", "embed/")]
    apis = [api.get(path).content.decode() for path in (
        f"/api/v1/products/{product.slug}/", f"/api/v1/products/{product.slug}/versions/", "/api/v1/products/")]
    for text in pages + apis:
        assert KEY not in text and stored not in text
    assert "Remote engine API key changed." not in pages[1]  # the first version: nothing to compare


def test_a_name_not_on_the_allow_list_is_refused_and_nothing_changes(owner_client, product, engines):
    for name in ("evil", "http://169.254.169.254/latest"):
        response = owner_client.post(_url(product), {"remote_engine": name, "remote_model": "x", "api_key": KEY})
        assert response.status_code == 400
        assert "Pick this studio or one of the engines listed; the operator adds others." in response.content.decode()
    product.refresh_from_db()
    assert (product.remote_engine, product.remote_api_key) == ("", "")
    with pytest.raises(ValidationError) as refused:
        product_engine_update(product=product, remote_engine="evil", remote_model="x")
    assert refused.value.message_dict == {"remote_engine": [NOT_ALLOWED.format(name="evil")]}


def test_choosing_another_engine_drops_the_saved_key_and_this_studio_clears_everything(owner_client, product, engines):
    product_engine_update(product=product, remote_engine="gpu", remote_model="m", api_key=KEY)
    assert product.remote_api_key
    product_engine_update(product=product, remote_engine="cpu", remote_model="m")
    assert product.remote_api_key == ""  # a key typed for one server is never sent to another
    product_engine_update(product=product, remote_engine="cpu", remote_model="m", api_key=KEY)
    response = owner_client.post(_url(product), {"remote_engine": "", "remote_model": "ignored"})
    assert response.status_code == 302
    product.refresh_from_db()
    assert (product.remote_engine, product.remote_model, product.remote_api_key) == ("", "", "")
    request = generation_request(kind=get_kind(product.kind), config=product, inputs=INPUTS).request
    assert request.remote is None


def test_a_remote_engine_needs_a_model_name(owner_client, product, engines):
    response = owner_client.post(_url(product), {"remote_engine": "gpu", "remote_model": " "})
    assert response.status_code == 400
    assert "Name the model to use on that engine" in response.content.decode()


def test_test_connection_says_in_words_that_a_down_engine_is_not_answering(owner_client, product, engines):
    response = owner_client.post(_url(product, "engine_check"), {"remote_engine": "gpu", "remote_model": "m"},
                                 HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200 and 'id="check-result"' in body and "<html" not in body
    assert "The remote engine “gpu” is not answering (it refused the connection or cannot be reached)." in body
    refused = owner_client.post(_url(product, "engine_check"), {"remote_engine": "evil", "remote_model": "m"})
    assert NOT_ALLOWED.format(name="evil").replace("'", "&#x27;") in refused.content.decode()


def test_editors_and_viewers_cannot_change_the_engine_and_another_team_gets_404(
    client, product, engines, make_member, make_team,
):
    for role in (Role.EDITOR, Role.VIEWER):
        member = make_member(product.team, role=role)
        client.force_login(member.user)
        page = client.get(_url(product))
        assert page.status_code == 200 and "Team admins choose the engine." in page.content.decode()
        assert client.post(_url(product), {"remote_engine": "gpu", "remote_model": "m"}).status_code == 403
        assert client.post(_url(product, "engine_check"), {"remote_engine": "gpu"}).status_code == 403
    stranger = make_team("Other").memberships.get().user
    client.force_login(stranger)
    assert client.get(_url(product)).status_code == 404
    assert client.post(_url(product), {"remote_engine": "gpu", "remote_model": "m"}).status_code == 404
    assert client.post(_url(product, "engine_check"), {"remote_engine": "gpu", "remote_model": "m"}).status_code == 404
    product.refresh_from_db()
    assert product.remote_engine == ""


def test_text_writing_products_may_run_on_a_remote_engine_and_the_others_are_refused(owner_client, engines):
    qa = product_create(team=owner_client.team, user=owner_client.user, kind_id="qa", template_id="help-centre")
    assert owner_client.post(_url(qa), {"remote_engine": "gpu", "remote_model": "m", "api_key": KEY}).status_code == 302
    qa.refresh_from_db()
    assert (qa.remote_engine, qa.remote_model) == ("gpu", "m")
    assert api_key_decrypt(qa.remote_api_key, engine="gpu") == KEY

    labels = product_create(team=owner_client.team, user=owner_client.user, kind_id="classification",
                            template_id="review-sentiment")
    response = owner_client.post(_url(labels), {"remote_engine": "gpu", "remote_model": "m", "api_key": KEY})
    assert response.status_code == 400
    assert "Classification products run on this studio&#x27;s engine only, for now." in response.content.decode()
    labels.refresh_from_db()
    assert (labels.remote_engine, labels.remote_api_key) == ("", "")
