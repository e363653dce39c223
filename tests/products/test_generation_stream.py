"""The playground websocket: consumer → one start path → channel layer → worker → frames, exactly.

Protocol tests run a real InferenceWorker with a scripted runner (tests/fakes.py), so every frame is
known; the real model streams in one end-to-end test with a separate worker process over Redis.
"""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.core.cache import cache

from inference.protocol import ENGINE_UNAVAILABLE
from products.consumers import GenerationConsumer
from products.models import Generation
from products.services import product_create
from studio.asgi import application
from studio.roles import Role
from tests.fakes import fake_worker, scripted_runner
from tests.studio.test_websocket_routing import _session_cookie_for

pytestmark = pytest.mark.django_db(transaction=True)

INPUTS = {"product": "Trail running shoes", "benefit": "dry feet", "tone": "bold"}
GREEDY = {"creativity": 0, "length": 12, "variants": 1}


@pytest.fixture
def product(make_team):
    cache.clear()  # playground rate-limit counters
    team = make_team("Acme")
    owner = team.memberships.get().user
    product = product_create(team=team, user=owner, kind_id="copywriting", template_id="ad-headlines")
    return product, owner


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


async def _frames_until_end(communicator, timeout: float = 20, ends: int = 1) -> list[dict]:
    frames = []
    while ends:
        frame = await communicator.receive_json_from(timeout=timeout)
        frames.append(frame)
        if frame["event"] in ("done", "error"):
            ends -= 1
    return frames


def _generations():
    return database_sync_to_async(lambda: list(Generation.objects.order_by("variant", "pk")))()


async def test_generate_sends_exact_frames_in_order_and_logs_the_result(product):
    product, owner = product
    async with fake_worker() as runner:
        communicator = await _connect(product, owner)
        await communicator.send_json_to({"action": "generate", "inputs": INPUTS, "settings": GREEDY})
        frames = await _frames_until_end(communicator)
        await communicator.disconnect()
    [generation] = await _generations()
    done_usage = frames[-1]["usage"]
    assert frames == [
        {"event": "start", "generation": generation.pk, "variant": 0},
        {"event": "token", "text": "Dry", "variant": 0},
        {"event": "token", "text": " feet", "variant": 0},
        {"event": "token", "text": " ahead", "variant": 0},
        {"event": "done", "result": {"text": "Dry feet ahead"}, "usage": done_usage, "generation": generation.pk,
         "variant": 0},
    ]
    assert done_usage["finish_reason"] == "length" and done_usage["completion_tokens"] == 3
    assert (generation.status, generation.output, generation.result) == ("finished", "Dry feet ahead",
                                                                         {"text": "Dry feet ahead"})
    [request] = runner.requests
    assert request.messages[-1]["content"] == ("Write one bold ad headline of under 10 words for Trail running shoes. "
                                               "It must say the main benefit: dry feet.")
    assert [m["role"] for m in request.messages] == ["system", *["user", "assistant"] * 2, "user"]  # worked examples
    assert request.params["max_new_tokens"] == 12 and request.params["temperature"] == 0
    assert request.params["stop"] == ["\n"]  # a headline is one line


async def test_a_waiting_request_hears_its_place_in_the_queue_before_its_text(product):
    product, owner = product
    async with fake_worker(scripted_runner(("Hi",), queued=(2, 1, 0))):
        communicator = await _connect(product, owner)
        await communicator.send_json_to({"action": "generate", "inputs": INPUTS, "settings": GREEDY})
        frames = await _frames_until_end(communicator)
        await communicator.disconnect()
    assert [(f["event"], f.get("position")) for f in frames] == [
        ("start", None), ("queued", 2), ("queued", 1), ("queued", 0), ("token", None), ("done", None),
    ]


async def test_several_variants_stream_side_by_side_and_each_is_logged(product):
    product, owner = product
    async with fake_worker():
        communicator = await _connect(product, owner)
        await communicator.send_json_to({"action": "generate", "inputs": INPUTS,
                                         "settings": {"creativity": 0.9, "length": 8, "variants": 3}})
        frames = await _frames_until_end(communicator, ends=3)
        await communicator.disconnect()
    assert sorted(f["variant"] for f in frames if f["event"] == "done") == [0, 1, 2]
    assert [(g.variant, g.status) for g in await _generations()] == [(0, "finished"), (1, "finished"),
                                                                      (2, "finished")]


async def test_stop_ends_the_stream_with_finish_reason_cancelled_and_keeps_the_text(product):
    product, owner = product
    async with fake_worker(scripted_runner(tuple(f" w{i}" for i in range(200)), delay_s=0.05)):
        communicator = await _connect(product, owner)
        await communicator.send_json_to({"action": "generate", "inputs": INPUTS, "settings": GREEDY})
        assert (await communicator.receive_json_from(timeout=5))["event"] == "start"
        assert (await communicator.receive_json_from(timeout=5))["event"] == "token"
        await communicator.send_json_to({"action": "stop"})
        frames = await _frames_until_end(communicator)
        await communicator.disconnect()
    assert frames[-1]["event"] == "done" and frames[-1]["usage"]["finish_reason"] == "cancelled"
    [generation] = await _generations()
    assert generation.finish_reason == "cancelled" and generation.output.startswith(" w0")
    assert generation.result == {"text": generation.output} and len(generation.output.split()) < 200


async def test_stop_with_a_variant_stops_only_that_one_and_the_other_finishes(product):
    product, owner = product
    async with fake_worker(scripted_runner(tuple(f" w{i}" for i in range(30)), delay_s=0.05, finish_reason="eos")):
        communicator = await _connect(product, owner)
        await communicator.send_json_to({"action": "generate", "inputs": INPUTS,
                                         "settings": {"creativity": 0, "length": 40, "variants": 2}})
        frames = []
        while not any(f["event"] == "token" and f["variant"] == 1 for f in frames):
            frames.append(await communicator.receive_json_from(timeout=5))
        await communicator.send_json_to({"action": "stop", "variant": 1})
        frames += await _frames_until_end(communicator, ends=2)
        await communicator.disconnect()
    done = {f["variant"]: f for f in frames if f["event"] == "done"}
    assert done[1]["usage"]["finish_reason"] == "cancelled"
    assert done[0]["usage"]["finish_reason"] == "eos" and done[0]["usage"]["completion_tokens"] == 30
    assert [(g.variant, g.finish_reason) for g in await _generations()] == [(0, "eos"), (1, "cancelled")]


@pytest.mark.parametrize("variant", ["1", 1.0, True, [1]])
async def test_stop_with_a_variant_that_is_not_a_whole_number_gets_the_help_text(product, variant):
    product, owner = product
    communicator = await _connect(product, owner)
    await communicator.send_json_to({"action": "stop", "variant": variant})
    frame = await communicator.receive_json_from(timeout=5)
    await communicator.send_json_to({"action": "stop", "variant": 3})  # nothing running: nothing to stop, no error
    assert await communicator.receive_nothing(timeout=0.3)
    await communicator.disconnect()
    assert frame == {"event": "error", "code": "bad_request", "message": GenerationConsumer.help_text}


async def test_missing_inputs_are_named_and_nothing_is_generated_or_counted(product, settings):
    settings.PLAYGROUND_GENERATIONS_PER_MINUTE = 1
    product, owner = product
    async with fake_worker() as runner:
        communicator = await _connect(product, owner)
        await communicator.send_json_to({"action": "generate", "inputs": {"tone": "bold"}})
        frame = await communicator.receive_json_from(timeout=5)
        await communicator.send_json_to({"action": "generate", "inputs": INPUTS, "settings": GREEDY})
        after = await _frames_until_end(communicator)
        await communicator.disconnect()
    assert frame == {"event": "error", "code": "invalid_input", "message": frame["message"],
                     "fields": {"product": "Product name is required.", "benefit": "Main benefit is required."}}
    assert after[-1]["event"] == "done"  # the refused request did not use up the one allowed this minute
    assert len(runner.requests) == 1 and len(await _generations()) == 1


async def test_settings_outside_their_limits_are_refused_by_name(product):
    product, owner = product
    communicator = await _connect(product, owner)
    await communicator.send_json_to({"action": "generate", "inputs": INPUTS, "settings": {"creativity": "nan"}})
    frame = await communicator.receive_json_from(timeout=5)
    await communicator.disconnect()
    assert frame["code"] == "invalid_settings"
    assert frame["fields"] == {"creativity": "Creativity must be a number from 0 to 1.5."}
    assert not await _generations()


async def test_each_variant_counts_against_the_playground_limit(product, settings):
    settings.PLAYGROUND_GENERATIONS_PER_MINUTE = 4
    product, owner = product
    async with fake_worker():
        communicator = await _connect(product, owner)
        await communicator.send_json_to({"action": "generate", "inputs": INPUTS, "settings": {"variants": 3}})
        await _frames_until_end(communicator, ends=3)
        await communicator.send_json_to({"action": "generate", "inputs": INPUTS, "settings": {"variants": 3}})
        refused = await communicator.receive_json_from(timeout=5)
        await communicator.disconnect()
    assert refused == {"event": "error", "code": "rate_limited",
                       "message": "You are generating very fast. Wait a minute, then try again.",
                       "retry_after_s": refused["retry_after_s"]}
    assert 55 <= refused["retry_after_s"] <= 60  # when the first press's variants leave the minute
    assert len(await _generations()) == 3


async def test_the_playground_uses_the_draft_as_saved_now_not_when_the_socket_opened(product):
    from products.services import product_draft_update

    product, owner = product
    async with fake_worker() as runner:
        communicator = await _connect(product, owner)
        await database_sync_to_async(product_draft_update)(
            product=product, system_prompt="Shout.", prompt_template="Headline for {product}, {benefit}, {tone}.",
            settings=GREEDY,
        )
        await communicator.send_json_to({"action": "generate", "inputs": INPUTS})
        await _frames_until_end(communicator)
        await communicator.disconnect()
    assert runner.requests[0].messages == [
        {"role": "system", "content": "Shout."},
        # The template's worked examples, written through the prompt as it is now.
        {"role": "user", "content": "Headline for Rain jacket, stay dry in any storm, friendly."},
        {"role": "assistant", "content": "Rain jacket: stay dry in any storm"},
        {"role": "user", "content": "Headline for Hiking backpack, light on your back, bold."},
        {"role": "assistant", "content": "Hiking backpack: light on your back"},
        {"role": "user", "content": "Headline for Trail running shoes, dry feet, bold."},
    ]


async def test_without_a_worker_the_person_hears_the_engine_is_unavailable(product, settings):
    settings.INFERENCE_START_TIMEOUT_S = 0.3
    product, owner = product
    communicator = await _connect(product, owner)
    await communicator.send_json_to({"action": "generate", "inputs": INPUTS, "settings": GREEDY})
    frame = await communicator.receive_json_from(timeout=5)
    await communicator.disconnect()
    assert frame == {"event": "error", "code": "engine_unavailable", "variant": 0, "message": ENGINE_UNAVAILABLE}
    [generation] = await _generations()
    assert generation.status == "failed" and generation.error == ENGINE_UNAVAILABLE
    # Nobody answered; drop the orphaned request so the next test's worker does not pick it up.
    await get_channel_layer().flush() if hasattr(get_channel_layer(), "flush") else None


async def test_a_frame_that_is_not_json_or_too_deep_gets_the_help_text(product):
    product, owner = product
    communicator = await _connect(product, owner)
    for text in ("not json", "[" * 100_000):
        await communicator.send_to(text_data=text)
        frame = await communicator.receive_json_from(timeout=5)
        assert frame["code"] == "bad_request", frame
    await communicator.disconnect()


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


@pytest.mark.model
async def test_a_separate_worker_process_serves_the_playground_over_redis_with_the_real_model(
    product, worker_process
):
    product, owner = product
    communicator = await _connect(product, owner)
    await communicator.send_json_to({"action": "generate", "inputs": INPUTS, "settings": GREEDY})
    frames = await _frames_until_end(communicator, timeout=60)  # the first frame must arrive within the timeout
    await communicator.disconnect()
    assert [frames[0]["event"], frames[-1]["event"]] == ["start", "done"], frames
    text = "".join(f["text"] for f in frames if f["event"] == "token")
    [generation] = await _generations()
    assert generation.output == text == frames[-1]["result"]["text"] and generation.status == "finished"
    assert frames[-1]["usage"]["finish_reason"] in ("eos", "length") and generation.tokens_out <= 12


async def test_a_worker_that_goes_silent_mid_answer_ends_the_stream_and_marks_the_row_failed(product, settings):
    import asyncio

    from inference import client
    from inference.runners import Result, Token, empty_usage

    settings.INFERENCE_IDLE_TIMEOUT_S = 0.3
    release = asyncio.Event()

    async def hung(request, context):
        hung.requests.append(request)
        yield Token("Dry")
        await release.wait()  # a worker stuck in a decode call: it hears nothing, not even Stop
        yield Result("length", {"text": "Dry"}, empty_usage(duration_s=0.01, finish_reason="length"))

    hung.requests = []
    product, owner = product
    async with fake_worker(hung):
        communicator = await _connect(product, owner)
        await communicator.send_json_to({"action": "generate", "inputs": INPUTS, "settings": GREEDY})
        frames = await _frames_until_end(communicator, timeout=5)
        [generation] = await _generations()
        release.set()
        await communicator.disconnect()
    assert [frame["event"] for frame in frames] == ["start", "token", "error"]
    assert frames[-1]["message"] == client.ENGINE_STOPPED
    assert (generation.status, generation.output, generation.error) == ("failed", "Dry", client.ENGINE_STOPPED)


def test_a_late_worker_result_does_not_overwrite_the_failure_the_person_was_shown(product):
    from products.services import generation_create, generation_finish

    product, owner = product
    generation = generation_create(product=product, version=None, channel="playground", user=owner, inputs={})
    ending = {"tokens_in": 0, "tokens_out": 0, "time_to_first_token_s": None, "duration_s": 5.0}
    generation_finish(generation_id=generation.pk, output="", finish_reason="error", error=ENGINE_UNAVAILABLE,
                      **ending)
    generation_finish(generation_id=generation.pk, output="Late text", finish_reason="eos", **ending)
    generation.refresh_from_db()
    assert (generation.status, generation.output, generation.error) == ("failed", "", ENGINE_UNAVAILABLE)


async def test_a_traced_generation_marks_every_step_to_its_first_token_in_order(product, tmp_path):
    from studio import timeline

    product, owner = product
    trace = tmp_path / "trace.jsonl"
    timeline.enable(str(trace))
    try:
        async with fake_worker():
            communicator = await _connect(product, owner)
            await communicator.send_json_to({"action": "generate", "inputs": INPUTS, "settings": GREEDY})
            frames = await _frames_until_end(communicator)
            await communicator.disconnect()
    finally:
        timeline.disable()
    [steps] = timeline.read(str(trace)).values()  # one request, marked by the consumer, the client and the worker
    assert frames[-1]["event"] == "done"
    assert sorted(steps, key=steps.get) == [
        "ws.receive", "start.done", "request.send", "worker.receive", "worker.start_sent", "worker.token_send",
        "client.token", "ws.token_sent",
    ]
    assert [name for name, _, _ in timeline.breakdown([steps])][0] == "ws.receive -> start.done"
