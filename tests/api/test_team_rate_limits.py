"""Limits per team as well as per key or person, counted per variant, saying when to retry.

A team multiplied its API budget by making keys, and a playground press under the limit started up
to four variants. Over real requests and sockets, on the shared cache (Redis when REDIS_URL is set).
"""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from products.embed.limits import PLAYGROUND_LIMIT_MESSAGE, TEAM_API_LIMIT_MESSAGE, TEAM_PLAYGROUND_LIMIT_MESSAGE
from products.models import Generation
from products.services import product_create
from studio.roles import Role
from tests.api.conftest import INPUTS, bearer
from tests.api.test_rate_limits import _concurrently
from tests.fakes import fake_worker
from tests.products.test_generation_stream import _connect, _frames_until_end

pytestmark = pytest.mark.django_db(transaction=True)


def test_three_keys_with_twenty_concurrent_calls_each_share_a_team_limit_of_thirty(
    make_team, make_key, make_product, settings, pinned_rate_window,
):
    # Sixty threads, each with its own database connection, stay under PostgreSQL's default 100 clients.
    settings.API_GENERATIONS_PER_MINUTE = 30  # no key reaches its own limit: only the team's binds
    settings.TEAM_API_GENERATIONS_PER_MINUTE = 30
    team = make_team("Acme")
    product = make_product(team)
    secrets = [make_key(team, name=f"Key {n}") for n in range(3)]

    def generate(n: int):
        return bearer(secrets[n % 3]).post(f"/api/v1/products/{product.slug}/generate/",
                                           {"inputs": INPUTS, "stream": True}, format="json")

    responses = _concurrently(60, generate)
    statuses = [response.status_code for response in responses]
    assert (statuses.count(200), statuses.count(429)) == (30, 30), statuses
    refused = [response for response in responses if response.status_code == 429]
    assert {response.json()["detail"] for response in refused} == {TEAM_API_LIMIT_MESSAGE.format(limit=30)}
    assert all(1 <= int(response["Retry-After"]) <= 60 for response in refused)
    assert Generation.objects.filter(product=product, channel="api").count() == 30


def test_a_refused_call_says_when_to_retry_on_the_rest_api_and_the_openai_endpoint(
    make_team, make_key, make_product, settings,
):
    settings.API_GENERATIONS_PER_MINUTE = 1
    team = make_team("Acme")
    product = make_product(team)
    client = bearer(make_key(team))
    url = f"/api/v1/products/{product.slug}/generate/"
    assert client.post(url, {"inputs": INPUTS, "stream": True}, format="json").status_code == 200
    rest = client.post(url, {"inputs": INPUTS}, format="json")
    openai = client.post("/v1/chat/completions", {
        "model": product.slug, "messages": [{"role": "user", "content": "Trail running shoes"}],
        "inputs": {"benefit": "dry feet"}}, format="json")
    for response in (rest, openai):
        assert response.status_code == 429, response.content
        assert 55 <= int(response["Retry-After"]) <= 60
    assert openai.json()["error"]["type"] == "rate_limit_error"
    assert Generation.objects.count() == 1


async def test_playground_variants_count_per_person_and_per_team_and_the_frame_says_when_to_retry(
    make_team, make_member, settings,
):
    settings.PLAYGROUND_GENERATIONS_PER_MINUTE = 5
    settings.TEAM_PLAYGROUND_GENERATIONS_PER_MINUTE = 7
    team = await database_sync_to_async(make_team)("Acme")
    owner = await database_sync_to_async(lambda: team.memberships.get().user)()
    editor = (await database_sync_to_async(make_member)(team, Role.EDITOR)).user
    product = await database_sync_to_async(product_create)(team=team, user=owner, kind_id="copywriting",
                                                           template_id="ad-headlines")
    four = {"action": "generate", "inputs": INPUTS, "settings": {"variants": 4}}
    async with fake_worker():
        mine, theirs = await _connect(product, owner), await _connect(product, editor)
        await mine.send_json_to(four)
        await _frames_until_end(mine, ends=4)
        await mine.send_json_to(four)  # 4 + 4 passes the person's 5: refused whole, nothing started
        own_limit = await mine.receive_json_from(timeout=5)
        await theirs.send_json_to(four)  # the editor's own 4 fit, but not beside the owner's 4 in a team of 7
        team_limit = await theirs.receive_json_from(timeout=5)
        await mine.disconnect()
        await theirs.disconnect()
    assert own_limit == {"event": "error", "code": "rate_limited", "message": PLAYGROUND_LIMIT_MESSAGE,
                         "retry_after_s": own_limit["retry_after_s"]}
    assert team_limit == {"event": "error", "code": "rate_limited",
                          "message": TEAM_PLAYGROUND_LIMIT_MESSAGE.format(limit=7),
                          "retry_after_s": team_limit["retry_after_s"]}
    assert 55 <= own_limit["retry_after_s"] <= 60 and 55 <= team_limit["retry_after_s"] <= 60
    assert await database_sync_to_async(Generation.objects.count)() == 4
