"""POST /api/v1/products/<slug>/generate/ end to end: view → channel layer → real worker → real model.

Requests go through Django's ASGI handler on the test's event loop (AsyncClient), where the worker runs.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.sync import ThreadSensitiveContext
from channels.db import database_sync_to_async
from django.core.asgi import get_asgi_application
from django.test import AsyncClient

from inference import protocol
from products.models import Generation
from tests.api.conftest import INPUTS, LONG_INPUTS

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.model]


@pytest.fixture
def api(make_team, make_key, make_product):
    team = make_team("Acme")
    product = make_product(team, length=8)
    return product, KeyClient(make_key(team))


class KeyClient(AsyncClient):
    """AsyncClient sending the API key on every request, in its own thread-sensitive context.

    Django's ASGI handler gives every request one (so a sync view that waits for the worker does not
    hold the worker's database thread); the test client does not, so each request here makes its own.
    """

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret

    async def post(self, path, data=None, **kwargs):
        kwargs["headers"] = {"Authorization": f"Bearer {self.secret}", **kwargs.get("headers", {})}
        async with ThreadSensitiveContext():
            return await super().post(path, data, content_type="application/json", **kwargs)


def _parse_sse(raw: str) -> list[tuple[str, dict]]:
    frames = []
    for block in raw.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        frames.append((lines["event"], json.loads(lines["data"])))
    return frames


async def _read_stream(response) -> str:
    return b"".join([chunk async for chunk in response.streaming_content]).decode()


async def test_json_generate_returns_the_text_and_logs_an_api_generation(api, worker):
    product, client = api
    response = await client.post(f"/api/v1/products/{product.slug}/generate/", {"inputs": INPUTS})
    assert response.status_code == 200, response.content
    body = response.json()
    generation = await database_sync_to_async(Generation.objects.get)()
    assert body["generation"] == generation.pk and body["version"] == 1
    assert body["text"].strip() and generation.output == body["text"] and body["result"] == {"text": body["text"]}
    assert body["usage"]["completion_tokens"] == generation.tokens_out <= 8
    assert (generation.channel, generation.status, generation.user_id) == ("api", "finished", None)


async def test_stream_sends_the_websocket_events_as_sse_with_no_buffering_headers(api, worker):
    product, client = api
    response = await client.post(f"/api/v1/products/{product.slug}/generate/", {"inputs": INPUTS, "stream": True})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/event-stream; charset=utf-8"
    assert response["Cache-Control"] == "no-cache" and response["X-Accel-Buffering"] == "no"
    frames = _parse_sse(await _read_stream(response))
    names = [name for name, _ in frames]
    assert names[0] == "start" and names[-1] == "done" and set(names[1:-1]) == {"token"}, names
    assert all(name == data["event"] for name, data in frames)
    generation = await database_sync_to_async(Generation.objects.get)()
    assert frames[0][1] == {"event": "start", "generation": generation.pk}
    assert frames[-1][1]["usage"]["finish_reason"] in ("eos", "length")
    assert "".join(data["text"] for name, data in frames if name == "token") == generation.output


async def test_accept_event_stream_streams_without_the_flag(api, worker):
    product, client = api
    response = await client.post(f"/api/v1/products/{product.slug}/generate/", {"inputs": INPUTS},
                                 headers={"Accept": "text/event-stream"})
    frames = _parse_sse(await _read_stream(response))
    assert frames[-1][0] == "done"


async def test_client_disconnect_mid_stream_cancels_the_generation_on_the_worker(api, worker, make_product):
    """Through Django's real ASGI handler: the client goes away after the first tokens."""
    team = await database_sync_to_async(lambda: api[0].team)()
    product = await database_sync_to_async(make_product)(team, name="Long", template_id="product-description",
                                                         length=400)
    body = json.dumps({"inputs": LONG_INPUTS, "stream": True}).encode()
    path = f"/api/v1/products/{product.slug}/generate/"
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(b"host", b"testserver"), (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"authorization", f"Bearer {api[1].secret}".encode())],
        "client": ("127.0.0.1", 50000), "server": ("testserver", 80),
    }
    to_app: asyncio.Queue = asyncio.Queue()
    from_app: asyncio.Queue = asyncio.Queue()
    await to_app.put({"type": "http.request", "body": body, "more_body": False})
    served = asyncio.create_task(get_asgi_application()(scope, to_app.get, from_app.put))
    head = await asyncio.wait_for(from_app.get(), 30)
    assert head["status"] == 200, (await from_app.get())["body"]
    chunks = [(await asyncio.wait_for(from_app.get(), 60))["body"] for _ in range(2)]
    assert chunks[0].startswith(b"event: start") and chunks[1].startswith(b"event: token")
    await to_app.put({"type": "http.disconnect"})
    await asyncio.wait_for(served, 30)
    for _ in range(200):
        generation = await database_sync_to_async(Generation.objects.get)()
        if generation.status != "running":
            break
        await asyncio.sleep(0.1)
    assert generation.finish_reason == "cancelled" and 0 < generation.tokens_out < 400


async def test_without_a_worker_json_gets_503_and_sse_gets_an_error_event(api, settings):
    settings.INFERENCE_START_TIMEOUT_S = 0.3
    product, client = api
    response = await client.post(f"/api/v1/products/{product.slug}/generate/", {"inputs": INPUTS})
    assert response.status_code == 503 and response.json() == {"detail": protocol.ENGINE_UNAVAILABLE}
    streamed = await client.post(f"/api/v1/products/{product.slug}/generate/", {"inputs": INPUTS, "stream": True})
    assert _parse_sse(await _read_stream(streamed)) == [
        ("error", {"event": "error", "code": "engine_unavailable", "message": protocol.ENGINE_UNAVAILABLE})]
    statuses = await database_sync_to_async(lambda: list(Generation.objects.values_list("status", "error")))()
    assert statuses == [("failed", protocol.ENGINE_UNAVAILABLE)] * 2
    layer = __import__("channels.layers", fromlist=["get_channel_layer"]).get_channel_layer()
    if hasattr(layer, "flush"):
        await layer.flush()  # drop the unanswered requests so a later test's worker does not take them
