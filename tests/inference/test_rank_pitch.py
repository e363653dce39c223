"""Pitches after a ranking (inference/runners/pitch.py), with a scripted model: the items first, the sentences
as one token stream a line per item, the done result carrying each top item's ``pitch``; Stop and a failing
model never lose the items. The ranking is the toy kind's fixed one (tests/toykinds), the runner the real one."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from inference.protocol import InferenceRequest, Task
from inference.runners import RunContext, Sources, Token
from inference.runners.pitch import FAILED
from inference.runners.rank import rank
from products.models import Generation
from studio.asgi import application
from tests.fakes import ScriptedHandle, fake_worker
from tests.products.test_toy_kind import ITEMS, picks  # noqa: F401 (a fixture)
from tests.studio.test_websocket_routing import _session_cookie_for
from tests.toykinds import fixed_rank_runner  # noqa: F401 (registers the "fixed" ranker)
from tests.toykinds.fixed_rank import CATALOG, FixedRank

pytestmark = pytest.mark.django_db(transaction=True)

PITCHES = (("Roomy", " for two."), ("Hot", " meals", " anywhere."), ("Light", " nights."))


class ScriptedScheduler:
    def __init__(self, delay_s):
        self.delay_s, self.requests = delay_s, []

    def submit(self, request):
        self.requests.append(request)
        return ScriptedHandle(PITCHES[len(self.requests) - 1], delay_s=self.delay_s, prompt_tokens=30)


@pytest.fixture
def scheduler(monkeypatch):
    scheduler = ScriptedScheduler(0.05)
    monkeypatch.setattr("inference.runners.text.scheduler_for", lambda model, adapter: scheduler)
    return scheduler


def _request(count=2) -> InferenceRequest:
    return InferenceRequest(task=Task.RANK, model="fixed", query={
        "user": "ada", "k": 3, "items": CATALOG, "pitch": {"model": "smollm2-135m-instruct", "count": count}})


@pytest.fixture
def pitching(monkeypatch):
    """The toy kind asking for pitches of its top two items, as the recommendation kind does with the setting on."""
    prepare = FixedRank.prepare

    def with_pitch(self, config, inputs, context):
        request = prepare(self, config, inputs, context)
        return InferenceRequest(**{**request.__dict__, "query": {**request.query, "pitch": {
            "model": "smollm2-135m-instruct", "count": 2}}})

    monkeypatch.setattr(FixedRank, "prepare", with_pitch)


async def test_the_socket_sends_the_items_first_then_the_pitches_a_line_each_then_the_items_with_them(
    picks, pitching, scheduler  # noqa: F811
):
    product, owner, _ = picks
    cookie = await _session_cookie_for(owner)
    team_slug = await database_sync_to_async(lambda: product.team.slug)()
    communicator = WebsocketCommunicator(application, f"/ws/t/{team_slug}/products/{product.slug}/generate/",
                                         headers=[(b"origin", b"http://localhost"), (b"host", b"localhost"),
                                                  (b"cookie", cookie.encode())])
    async with fake_worker(rank, Task.RANK):
        assert (await communicator.connect())[0]
        await communicator.send_json_to({"action": "generate", "inputs": {"user": "ada", "count": 2}})
        frames = [await communicator.receive_json_from(timeout=10)]
        while frames[-1]["event"] not in ("done", "error"):
            frames.append(await communicator.receive_json_from(timeout=10))
        await communicator.disconnect()
    generation = await database_sync_to_async(Generation.objects.get)()
    pitched = [{**ITEMS[0], "pitch": "Roomy for two."}, {**ITEMS[1], "pitch": "Hot meals anywhere."}]
    done = frames[-1]
    assert frames[:2] == [{"event": "start", "generation": generation.pk, "variant": 0},
                          {"event": "sources", "items": ITEMS, "variant": 0}]
    assert frames[2:-1] == [{"event": "token", "text": text, "variant": 0}
                            for text in ("Roomy", " for two.", "\n", "Hot", " meals", " anywhere.")]
    assert (done["event"], done["result"], done["variant"]) == ("done", {"items": pitched}, 0)
    assert done["usage"]["finish_reason"] == "stop" and done["usage"]["completion_tokens"] == 5
    assert (generation.result, generation.status) == ({"items": pitched}, "finished")
    # Greedy, one line, from the version's base model, with the item's name as the fact.
    params = scheduler.requests[0].params
    assert (params.temperature, tuple(params.stop), len(scheduler.requests)) == (0.0, ("\n",), 2)
    assert "Item: Two-person tent" in scheduler.requests[0].messages[-1]["content"]


async def test_stop_ends_the_pitch_being_written_starts_no_other_and_keeps_every_item(scheduler):
    context = RunContext("stop")
    events = []
    async for event in rank(_request(count=3), context):
        events.append(event)
        if isinstance(event, Token) and event.text == "Roomy":
            context.cancel()
    sources, *tokens, result = events
    assert isinstance(sources, Sources) and [item["id"] for item in sources.items] == ["tent-2p", "stove", "lamp"]
    assert [t.text for t in tokens] == ["Roomy"] and len(scheduler.requests) == 1
    assert result.finish_reason == "cancelled"
    assert [item.get("pitch") for item in result.payload["items"]] == ["Roomy", None, None]


async def test_a_model_that_fails_leaves_the_items_and_says_why_the_pitches_stopped(monkeypatch):
    def broken(model, adapter):
        raise RuntimeError("the model file is missing")

    monkeypatch.setattr("inference.runners.text.scheduler_for", broken)
    sources, result = [event async for event in rank(_request(), RunContext("broken"))]
    assert isinstance(sources, Sources) and result.finish_reason == "stop"
    assert result.payload == {"items": sources.items,
                              "pitch_error": FAILED.format(error="the model file is missing")}
    assert not any("pitch" in item for item in result.payload["items"])


async def test_without_the_setting_the_ranking_is_one_result_and_no_model_is_asked(scheduler):
    request = InferenceRequest(task=Task.RANK, model="fixed", query={"user": "ada", "k": 2, "items": CATALOG})
    (result,) = [event async for event in rank(request, RunContext("plain"))]
    assert result.finish_reason == "stop" and [item["id"] for item in result.payload["items"]] == ["tent-2p", "stove"]
    assert scheduler.requests == []
