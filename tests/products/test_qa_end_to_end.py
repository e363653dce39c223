"""Both halves of Q&A together: a product made from the gallery template on the shipped store FAQ, its index
built by the real index worker, questions answered over the playground socket by the real answer runner
(MiniLM retrieval, SmolLM2 writing) in a real inference worker."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from inference.worker import InferenceWorker
from products.models import Generation
from products.services import product_create
from tests.inference.knowledge import built_index, store_faq_version
from tests.products.test_generation_stream import _connect, _frames_until_end

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def faq_assistant(make_team, bundled_models):
    team = make_team("Shop")
    owner = team.memberships.get().user
    faq = store_faq_version(team, owner)
    index = built_index(faq)
    assert index.is_ready and index.chunks.count() > 10
    product = product_create(team=team, user=owner, kind_id="qa", template_id="store-faq", name="Shop helper",
                             knowledge_version=faq)
    return product, owner


async def _ask(product, owner, question: str, conversation=()) -> list[dict]:
    worker = asyncio.create_task(InferenceWorker(get_channel_layer()).run())
    try:
        communicator = await _connect(product, owner)
        await communicator.send_json_to({"action": "generate", "inputs": {"question": question},
                                         "conversation": list(conversation), "settings": {"length": 48}})
        frames = await _frames_until_end(communicator, timeout=60)
        await communicator.disconnect()
    finally:
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)
    return frames


async def test_a_store_faq_assistant_answers_from_its_faq_and_says_it_does_not_know_off_topic(faq_assistant):
    product, owner = faq_assistant

    frames = await _ask(product, owner, "How long does it take for my parcel to arrive?")
    events = [f["event"] for f in frames]
    assert events[:2] == ["start", "sources"] and events[-1] == "done", frames
    assert "token" in events
    sources = frames[1]["items"]
    assert any("deliver" in s["text"].lower() or "ship" in s["text"].lower() for s in sources[:2]), sources
    result = frames[-1]["result"]
    assert result["abstained"] is False and result["text"].strip()
    assert result["best_score"] >= result["threshold"]
    assert {c["id"] for c in result["citations"]} <= {s["id"] for s in sources}

    off_topic = await _ask(product, owner, "Who won the football world cup in 1998?")
    result = off_topic[-1]["result"]
    assert result["abstained"] is True and result["best_score"] < result["threshold"]
    abstain = await database_sync_to_async(lambda: product.kind_config["abstain_text"])()
    assert result["text"].startswith(abstain)
    statuses = Generation.objects.order_by("pk").values_list("status", flat=True)
    rows = await database_sync_to_async(lambda: list(statuses))()
    assert rows == ["finished", "finished"]
