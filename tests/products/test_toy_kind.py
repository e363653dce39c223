"""A fourth kind added only in the test settings (tests/toykinds) works on every surface, untouched code.

The `fixed-rank` kind's task is `rank`: no tokens, a list of items as its result. It is registered by
tests/settings.py alone (PRODUCT_KIND_MODULES, INFERENCE_RUNNER_MODULES), with its own result partial
and JS renderer; views, consumers, the REST API and the worker are the studio's own, unchanged.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.core.cache import cache
from django.urls import reverse

from inference.worker import InferenceWorker
from products.api.services import api_key_create
from products.embed.services import product_embed_update
from products.models import Generation
from products.services import product_create, product_version_create, product_version_publish
from studio.asgi import application
from tests.api.test_generate_stream import KeyClient
from tests.studio.test_websocket_routing import _session_cookie_for

pytestmark = pytest.mark.django_db(transaction=True)

SHOP = "https://shop.example"
ITEMS = [
    {"id": "tent-2p", "title": "Two-person tent", "score": 1.0, "reason": "A staff pick for ada"},
    {"id": "stove", "title": "Camping stove", "score": 0.5, "reason": "A staff pick for ada"},
]


@pytest.fixture
def picks(make_team):
    cache.clear()
    team = make_team("Outdoors")
    owner = team.memberships.get().user
    product = product_create(team=team, user=owner, kind_id="fixed-rank", template_id="staff-picks", name="Picks")
    product_version_publish(product=product, version=product_version_create(product=product, user=owner))
    product = product_embed_update(product=product, allowed_origins=[SHOP], messages_per_visitor_hour=20,
                                   messages_per_day=100)
    secret = api_key_create(team=team, user=owner, name="Backend", scope="generate").secret
    return product, owner, secret


@pytest.fixture
async def worker():
    """The studio's own worker with its registry: the toy's runner is found through the settings."""
    task = asyncio.create_task(InferenceWorker(get_channel_layer()).run())
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def _frames(communicator) -> list[dict]:
    frames = [await communicator.receive_json_from(timeout=10)]
    while frames[-1]["event"] not in ("done", "error"):
        frames.append(await communicator.receive_json_from(timeout=10))
    return frames


async def test_the_playground_socket_relays_the_ranked_items_unread(picks, worker):
    product, owner, _ = picks
    cookie = await _session_cookie_for(owner)
    team_slug = await database_sync_to_async(lambda: product.team.slug)()
    communicator = WebsocketCommunicator(application, f"/ws/t/{team_slug}/products/{product.slug}/generate/",
                                         headers=[(b"origin", b"http://localhost"), (b"host", b"localhost"),
                                                  (b"cookie", cookie.encode())])
    assert (await communicator.connect())[0]
    await communicator.send_json_to({"action": "generate", "inputs": {"user": "ada", "count": 2}})
    start, done = await _frames(communicator)
    await communicator.disconnect()
    generation = await database_sync_to_async(Generation.objects.get)()
    assert start == {"event": "start", "generation": generation.pk, "variant": 0}
    assert done["event"] == "done" and done["result"] == {"items": ITEMS}
    assert (generation.result, generation.status, generation.output) == ({"items": ITEMS}, "finished", "")


async def test_the_widget_fills_the_kinds_message_input_and_shows_the_items(picks, worker):
    product, _, _ = picks
    communicator = WebsocketCommunicator(application, f"/ws/widget/{product.public_key}/",
                                         headers=[(b"host", b"studio.example"), (b"origin", SHOP.encode())])
    communicator.scope["client"] = ("198.51.100.9", 5000)
    assert (await communicator.connect())[0]
    await communicator.send_json_to({"action": "generate", "message": "ada"})
    _, done = await _frames(communicator)
    await communicator.disconnect()
    assert [item["reason"] for item in done["result"]["items"]] == ["A staff pick for ada"] * 3
    assert done["feedback_token"]


async def test_rest_json_and_sse_carry_the_result_and_the_openai_endpoint_names_the_rest_route(picks, worker):
    product, _, secret = picks
    client = KeyClient(secret)
    path = f"/api/v1/products/{product.slug}/generate/"
    response = await client.post(path, {"inputs": {"user": "ada", "count": 2}})
    assert response.status_code == 200, response.content
    assert response.json()["result"] == {"items": ITEMS}
    assert response.json()["text"] == "Two-person tent, Camping stove"

    streamed = await client.post(path, {"inputs": {"user": "ada", "count": 2}, "stream": True})
    raw = b"".join([chunk async for chunk in streamed.streaming_content]).decode()
    events = [json.loads(block.split("data: ", 1)[1]) for block in raw.strip().split("\n\n")]
    assert [e["event"] for e in events] == ["start", "done"] and events[-1]["result"] == {"items": ITEMS}

    openai = await client.post("/v1/chat/completions", {"model": product.slug,
                                                        "messages": [{"role": "user", "content": "ada"}]})
    assert openai.status_code == 400
    assert openai.json()["error"]["message"] == (
        "“Picks” is a fixed picks product: its answers are not chat messages. "
        f"Call POST /api/v1/products/{product.slug}/generate/ instead.")
    assert await database_sync_to_async(Generation.objects.count)() == 2  # the refused call logged nothing


def test_pages_draw_the_toy_with_its_own_renderer_and_result_partial(client, picks):
    product, owner, _ = picks
    Generation.objects.create(team=product.team, product=product, result={"items": ITEMS}, status="finished")
    client.force_login(owner)
    page = client.get(reverse("playground", args=[product.team.slug, product.slug])).content.decode()
    assert "toykinds/items.js" in page and 'data-renderer="items"' in page
    assert '<ol class="ranked"><li>Two-person tent</li><li>Camping stove</li></ol>' in page
    assert 'id="in-user"' in page and 'id="in-count"' in page  # the kind's input form
    script = client.get(reverse("widget_script", args=[product.public_key])).content.decode()
    assert ".items = {" in script and "User id…" in script  # its renderer inlined, its message input named
