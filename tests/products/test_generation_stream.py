"""The playground websocket end to end: consumer → channel layer → inference worker → real model.

In CI the channel layer is Redis (REDIS_URL), so this is the worker protocol over real Redis.
"""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from inference import consumers
from inference.worker import InferenceWorker
from products.models import Generation
from products.services import product_create
from studio.asgi import application
from studio.roles import Role
from tests.studio.test_websocket_routing import _session_cookie_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.model]

INPUTS = {"product": "Trail running shoes", "benefit": "dry feet", "tone": "bold"}
GREEDY = {"creativity": 0, "length": 12, "variants": 1}


@pytest.fixture
def product(make_team):
    team = make_team("Acme")
    owner = team.memberships.get().user
    product = product_create(team=team, user=owner, kind_id="copywriting", template_id="ad-headlines")
    return product, owner


@pytest.fixture
async def worker():
    """A real inference worker on the test's event loop and channel layer."""
    task = asyncio.create_task(InferenceWorker(get_channel_layer()).run())
    yield task
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def _connect(product, user) -> WebsocketCommunicator:
    cookie = await _session_cookie_for(user)
    path = f"/ws/t/{product.team.slug}/products/{product.slug}/generate/"
    communicator = WebsocketCommunicator(
        application, path, headers=[(b"origin", b"http://localhost"), (b"host", b"localhost"),
                                    (b"cookie", cookie.encode())],
    )
    connected, _ = await communicator.connect()
    if not connected:
        await communicator.disconnect()
    assert connected
    return communicator


async def _frames_until_end(communicator, timeout: float = 60) -> list[dict]:
    frames = []
    while True:
        frame = await communicator.receive_json_from(timeout=timeout)
        frames.append(frame)
        if frame["event"] in ("done", "error"):
            return frames


async def test_generate_streams_start_tokens_done_in_order_and_logs_the_generation(product, worker):
    product, owner = product
    communicator = await _connect(product, owner)
    await communicator.send_json_to({"action": "generate", "inputs": INPUTS, "settings": GREEDY})
    frames = await _frames_until_end(communicator)
    await communicator.disconnect()

    assert frames[0]["event"] == "start" and frames[0]["variant"] == 0, frames
    assert all(f["event"] == "token" for f in frames[1:-1]) and len(frames) > 2
    done = frames[-1]
    assert done["event"] == "done" and done["usage"]["finish_reason"] in ("eos", "length")
    text = "".join(f["text"] for f in frames[1:-1])
    generation = await database_sync_to_async(Generation.objects.get)()
    assert generation.pk == frames[0]["generation"] == done["generation"]
    assert generation.output == text and text.strip()
    assert generation.tokens_out == done["usage"]["completion_tokens"] <= 12
    assert generation.status == "finished" and generation.time_to_first_token_ms is not None


async def test_greedy_generation_is_the_same_twice(product, worker):
    product, owner = product
    texts = []
    for _ in range(2):
        communicator = await _connect(product, owner)
        await communicator.send_json_to({"action": "generate", "inputs": INPUTS, "settings": GREEDY})
        frames = await _frames_until_end(communicator)
        texts.append("".join(f.get("text", "") for f in frames if f["event"] == "token"))
        await communicator.disconnect()
    assert texts[0] == texts[1] and texts[0]


async def test_several_variants_stream_side_by_side(product, worker):
    product, owner = product
    communicator = await _connect(product, owner)
    await communicator.send_json_to({"action": "generate", "inputs": INPUTS,
                                     "settings": {"creativity": 0.9, "length": 8, "variants": 3}})
    done = set()
    while len(done) < 3:
        frame = await communicator.receive_json_from(timeout=60)
        assert frame["event"] != "error", frame
        if frame["event"] == "done":
            done.add(frame["variant"])
    await communicator.disconnect()
    assert done == {0, 1, 2}
    assert await database_sync_to_async(Generation.objects.filter(status="finished").count)() == 3


async def test_stop_ends_the_stream_with_finish_reason_cancelled(product, worker):
    product, owner = product
    communicator = await _connect(product, owner)
    await communicator.send_json_to({"action": "generate", "inputs": INPUTS,
                                     "settings": {"creativity": 0, "length": 400, "variants": 1}})
    assert (await communicator.receive_json_from(timeout=30))["event"] == "start"
    assert (await communicator.receive_json_from(timeout=30))["event"] == "token"
    await communicator.send_json_to({"action": "stop"})
    frames = await _frames_until_end(communicator)
    await communicator.disconnect()
    assert frames[-1]["event"] == "done" and frames[-1]["usage"]["finish_reason"] == "cancelled"
    generation = await database_sync_to_async(Generation.objects.get)()
    assert generation.finish_reason == "cancelled" and generation.tokens_out < 400


async def test_missing_inputs_are_named_and_nothing_is_generated(product, worker):
    product, owner = product
    communicator = await _connect(product, owner)
    await communicator.send_json_to({"action": "generate", "inputs": {"tone": "bold"}})
    frame = await communicator.receive_json_from(timeout=5)
    await communicator.disconnect()
    assert frame["code"] == "invalid_input"
    assert frame["fields"] == {"product": "Product name is required.", "benefit": "Main benefit is required."}
    assert not await database_sync_to_async(Generation.objects.exists)()


async def test_without_a_worker_the_person_hears_the_engine_is_unavailable(product, monkeypatch):
    monkeypatch.setattr(consumers, "START_TIMEOUT_S", 0.5)
    product, owner = product
    communicator = await _connect(product, owner)
    await communicator.send_json_to({"action": "generate", "inputs": INPUTS, "settings": GREEDY})
    frame = await communicator.receive_json_from(timeout=5)
    await communicator.disconnect()
    assert frame == {"event": "error", "code": "engine_unavailable", "variant": 0,
                     "message": consumers.ENGINE_UNAVAILABLE}
    generation = await database_sync_to_async(Generation.objects.get)()
    assert generation.status == "failed" and generation.error == consumers.ENGINE_UNAVAILABLE
    # Nobody answered; drop the orphaned request so the next test's worker does not pick it up.
    await get_channel_layer().flush() if hasattr(get_channel_layer(), "flush") else None


async def test_viewer_and_outsider_cannot_open_the_generation_socket(product, make_member, make_team):
    product, _ = product
    viewer = (await database_sync_to_async(make_member)(product.team, Role.VIEWER)).user
    outsider = (await database_sync_to_async(make_team)("Other")).pk
    outsider_user = await database_sync_to_async(
        lambda: __import__("studio.models", fromlist=["Membership"]).Membership.objects.get(team_id=outsider).user
    )()
    for user in (viewer, outsider_user):
        cookie = await _session_cookie_for(user)
        communicator = WebsocketCommunicator(
            application, f"/ws/t/{product.team.slug}/products/{product.slug}/generate/",
            headers=[(b"origin", b"http://localhost"), (b"host", b"localhost"), (b"cookie", cookie.encode())],
        )
        result = await communicator.connect()
        await communicator.disconnect()  # end the refused consumer in this test's loop, not at teardown
        assert result == (False, 4403)


@pytest.fixture
def worker_process():
    """``manage.py inference_worker`` as its own process, as in production (needs Redis)."""
    import subprocess
    import sys

    from django.conf import settings

    from tests.processes import ROOT, process_env

    if "Redis" not in settings.CHANNEL_LAYERS["default"]["BACKEND"]:
        pytest.skip("A separate worker process needs REDIS_URL (CI sets it).")
    process = subprocess.Popen([sys.executable, str(ROOT / "manage.py"), "inference_worker"], env=process_env(),
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    # Wait until it listens, or the consumer's 5 s start timeout would race the process start-up.
    output = []
    for line in process.stdout:
        output.append(line)
        if "Inference worker started" in line:
            break
    else:
        pytest.fail("The inference worker exited: " + "".join(output[-20:]))
    yield process
    process.terminate()
    process.wait(timeout=20)


async def test_a_separate_worker_process_serves_the_playground_over_redis(product, worker_process):
    product, owner = product
    communicator = await _connect(product, owner)
    await communicator.send_json_to({"action": "generate", "inputs": INPUTS, "settings": GREEDY})
    frames = await _frames_until_end(communicator)  # the first frame must arrive within START_TIMEOUT_S
    await communicator.disconnect()
    assert [frames[0]["event"], frames[-1]["event"]] == ["start", "done"], frames
    text = "".join(f["text"] for f in frames if f["event"] == "token")
    generation = await database_sync_to_async(Generation.objects.get)()
    assert generation.output == text and generation.status == "finished"
