"""A Q&A product's answers on every surface, with the scripted answer runner (tests/fakes.py) in a real worker.

Playground and widget sockets, REST JSON and SSE, /v1/chat/completions: each goes through generation_start,
relays ``sources`` before the first token, and carries the result's citations. The real runner (retrieval,
abstention, citing) is the worker half's; here the protocol is what is under test.
"""

from __future__ import annotations

import json

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.cache import cache

from inference.models import KnowledgeIndex
from inference.protocol import Task
from products.api.services import api_key_create
from products.embed.services import product_embed_update
from products.models import Generation
from products.services import product_create, product_version_create, product_version_publish
from studio.asgi import application
from tests.api.test_generate_stream import KeyClient
from tests.fakes import ANSWER_SOURCES, fake_worker, scripted_answer_runner
from tests.knowledge import faq_version, index_building, index_ready
from tests.products.test_generation_stream import _connect, _frames_until_end

pytestmark = pytest.mark.django_db(transaction=True)

SHOP = "https://shop.example"
CITATIONS = [{"n": 1, "id": 101, "title": "How much does shipping cost?"}]
EARLIER = [{"role": "user", "content": "How much does shipping cost?"},
           {"role": "assistant", "content": "Standard delivery costs 4.95 € [1]."}]


@pytest.fixture
def assistant(make_team):
    cache.clear()
    team = make_team("Shop")
    owner = team.memberships.get().user
    faq = faq_version(team, owner)
    product = product_create(team=team, user=owner, kind_id="qa", template_id="store-faq", name="Shop helper",
                             knowledge_version=faq)
    index_ready(KnowledgeIndex.objects.get(dataset_version=faq), [("Shipping", "4.95 €"), ("Delivery", "2-4 days")])
    product_version_publish(product=product, version=product_version_create(product=product, user=owner))
    product = product_embed_update(product=product, allowed_origins=[SHOP], messages_per_visitor_hour=20,
                                   messages_per_day=100)
    secret = api_key_create(team=team, user=owner, name="Backend", scope="generate").secret
    return product, owner, secret


async def _widget(product) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, f"/ws/widget/{product.public_key}/",
                                         headers=[(b"host", b"studio.example"), (b"origin", SHOP.encode())])
    communicator.scope["client"] = ("198.51.100.9", 5000)
    assert (await communicator.connect())[0]
    return communicator


async def test_the_playground_streams_sources_before_tokens_and_done_marks_the_citations(assistant):
    product, owner, _ = assistant
    async with fake_worker(scripted_answer_runner(), task=Task.ANSWER) as runner:
        communicator = await _connect(product, owner)
        await communicator.send_json_to({"action": "generate", "inputs": {"question": "and express?"},
                                         "conversation": EARLIER})
        frames = await _frames_until_end(communicator)
        await communicator.disconnect()
    assert [f["event"] for f in frames] == ["start", "sources", "token", "token", "token", "done"]
    assert frames[1]["items"] == list(ANSWER_SOURCES)
    assert "".join(f["text"] for f in frames if f["event"] == "token") == "Standard delivery costs 4.95 € [1]."
    assert frames[-1]["result"]["citations"] == CITATIONS and frames[-1]["result"]["abstained"] is False
    request = runner.requests[0]
    assert request.messages[1:] == [*EARLIER, {"role": "user", "content": "and express?"}]
    assert request.retrieval["history"] == ["How much does shipping cost?"]
    generation = await database_sync_to_async(Generation.objects.get)()
    assert generation.result["citations"] == CITATIONS and generation.channel == "playground"


async def test_below_the_threshold_the_playground_gets_the_abstain_sentence_and_the_scores(assistant):
    product, owner, _ = assistant
    async with fake_worker(scripted_answer_runner(best_score=0.21), task=Task.ANSWER):
        communicator = await _connect(product, owner)
        await communicator.send_json_to({"action": "generate", "inputs": {"question": "Do you sell parrots?"}})
        frames = await _frames_until_end(communicator)
        await communicator.disconnect()
    assert [f["event"] for f in frames] == ["start", "sources", "token", "done"]
    assert frames[-1]["result"] == {"text": "Sorry, I don't know that from our shop's FAQ.", "citations": [],
                                    "abstained": True, "best_score": 0.21, "threshold": 0.35}


async def test_a_knowledge_base_still_being_read_is_one_error_frame_and_logs_nothing(assistant):
    product, owner, _ = assistant
    index = await database_sync_to_async(KnowledgeIndex.objects.get)()
    await database_sync_to_async(index_building)(index, done=12, total=30)
    async with fake_worker(scripted_answer_runner(), task=Task.ANSWER) as runner:
        communicator = await _connect(product, owner)
        await communicator.send_json_to({"action": "generate", "inputs": {"question": "Shipping?"}})
        frame = await communicator.receive_json_from(timeout=10)
        widget = await _widget(product)
        await widget.send_json_to({"action": "generate", "message": "Shipping?"})
        visitor = await widget.receive_json_from(timeout=10)
        await communicator.disconnect()
        await widget.disconnect()
    assert frame == {"event": "error", "code": "knowledge_not_ready",
                     "message": "Still reading your documents (40 %). Try again in a minute."}
    assert visitor == {"event": "error", "code": "knowledge_not_ready",
                       "message": "This chat cannot answer yet. Please try again in a few minutes."}
    assert runner.requests == [] and not await database_sync_to_async(Generation.objects.exists)()


async def test_the_widget_sends_its_earlier_turns_and_relays_the_sources(assistant):
    product, _, _ = assistant
    async with fake_worker(scripted_answer_runner(), task=Task.ANSWER) as runner:
        communicator = await _widget(product)
        await communicator.send_json_to({"action": "generate", "message": "and express?",
                                         "conversation": [*EARLIER, {"role": "tool", "content": 3}, "junk"]})
        frames = await _frames_until_end(communicator)
        await communicator.disconnect()
    assert [f["event"] for f in frames][:2] == ["start", "sources"]
    assert frames[-1]["result"]["citations"] == CITATIONS and frames[-1]["feedback_token"]
    assert runner.requests[0].messages[1:3] == EARLIER  # malformed turns were left out, not refused
    assert runner.requests[0].retrieval["question"] == "and express?"


async def test_rest_json_has_sources_and_citations_and_sse_has_a_sources_event(assistant):
    product, _, secret = assistant
    client = KeyClient(secret)
    path = f"/api/v1/products/{product.slug}/generate/"
    async with fake_worker(scripted_answer_runner(), task=Task.ANSWER) as runner:
        response = await client.post(path, {"inputs": {"question": "and express?"}, "conversation": EARLIER})
        streamed = await client.post(path, {"inputs": {"question": "Shipping?"}, "stream": True})
        raw = b"".join([chunk async for chunk in streamed.streaming_content]).decode()
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["sources"] == list(ANSWER_SOURCES) and body["result"]["citations"] == CITATIONS
    assert body["text"] == "Standard delivery costs 4.95 € [1]."
    assert runner.requests[0].retrieval["history"] == ["How much does shipping cost?"]
    events = [block.split("\n")[0].removeprefix("event: ") for block in raw.strip().split("\n\n")]
    assert events[:2] == ["start", "sources"] and events[-1] == "done"
    done = json.loads(raw.strip().split("\n\n")[-1].split("data: ", 1)[1])
    assert done["result"]["citations"] == CITATIONS


async def test_rest_refuses_a_knowledge_base_still_being_read_with_409(assistant):
    product, _, secret = assistant
    index = await database_sync_to_async(KnowledgeIndex.objects.get)()
    await database_sync_to_async(index_building)(index, done=3, total=10)
    response = await KeyClient(secret).post(f"/api/v1/products/{product.slug}/generate/",
                                            {"inputs": {"question": "Shipping?"}})
    assert response.status_code == 409
    assert response.json()["detail"] == "Still reading your documents (30 %). Try again in a minute."


async def test_openai_chat_completions_carry_the_citations_top_level(assistant):
    product, _, secret = assistant
    client = KeyClient(secret)
    messages = [*EARLIER, {"role": "user", "content": "and express?"}]
    async with fake_worker(scripted_answer_runner(), task=Task.ANSWER) as runner:
        response = await client.post("/v1/chat/completions", {"model": product.slug, "messages": messages})
        streamed = await client.post("/v1/chat/completions", {"model": product.slug, "messages": messages,
                                                              "stream": True})
        raw = b"".join([chunk async for chunk in streamed.streaming_content]).decode()
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["choices"][0]["message"]["content"] == "Standard delivery costs 4.95 € [1]."
    assert body["citations"] == CITATIONS
    assert body["studio"]["sources"] == list(ANSWER_SOURCES)
    assert runner.requests[0].messages[1:] == messages
    chunks = [json.loads(line.removeprefix("data: ")) for line in raw.split("\n") if line.startswith("data: {")]
    assert chunks[-1]["citations"] == CITATIONS and chunks[-1]["choices"][0]["finish_reason"] == "stop"
