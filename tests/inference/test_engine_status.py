"""Admins read one line per inference worker: backend, threads, slots in use, queue depth, recent tokens/s."""

from __future__ import annotations

import time

import pytest
from django.core.cache import cache
from django.urls import reverse

from inference.selectors import ENGINE_STATUS_WORKERS_KEY, engine_status_list
from inference.status import engine_status_publish
from studio.roles import Role

pytestmark = pytest.mark.django_db
STATUS = {"backend": "llamacpp", "reason": "auto", "threads": 1, "models_served": 1, "slots": 16, "slots_in_use": 2,
          "queue_depth": 3, "recent_tokens_per_s": 41.5}


@pytest.fixture(autouse=True)
def _no_reports():
    # Only this file's keys: the cache may be the Redis that the channel layer and rate limits use too.
    cache.delete(ENGINE_STATUS_WORKERS_KEY)
    yield
    cache.delete(ENGINE_STATUS_WORKERS_KEY)


def test_each_worker_reports_and_a_silent_one_drops_off():
    now = time.time()
    engine_status_publish(worker="w1", status=STATUS, now=now - 40)
    engine_status_publish(worker="w2", status={**STATUS, "slots_in_use": 5}, now=now)
    assert [(r["worker"], r["slots_in_use"]) for r in engine_status_list(now=now)] == [("w2", 5)]


def test_the_dashboard_shows_admins_the_engine_line_and_not_editors(owner_client, make_member):
    engine_status_publish(worker="w1", status=STATUS)
    team = owner_client.team
    page = owner_client.get(reverse("dashboard", args=[team.slug])).content.decode()
    assert "Engine: llamacpp · 1 thread · 2 of 16 slots busy · 3 waiting · 41.5 tokens/s" in page

    editor = make_member(team, Role.EDITOR).user
    owner_client.force_login(editor)
    page = owner_client.get(reverse("dashboard", args=[team.slug])).content.decode()
    assert 'data-testid="engine-status"' not in page


def test_with_no_worker_reporting_admins_read_that_the_model_will_not_answer(owner_client):
    page = owner_client.get(reverse("dashboard", args=[owner_client.team.slug])).content.decode()
    assert "No inference worker has reported in the last 30 seconds" in page


async def test_a_running_worker_publishes_its_engine_status():
    import asyncio

    from asgiref.sync import sync_to_async
    from channels.layers import get_channel_layer

    from inference.worker import InferenceWorker

    worker = InferenceWorker(get_channel_layer(), runners={})
    task = asyncio.create_task(worker.run())
    try:
        for _ in range(50):
            reports = await sync_to_async(engine_status_list)()
            if reports:
                break
            await asyncio.sleep(0.1)
    finally:
        task.cancel()
    assert [r["worker"] for r in reports] == [worker.channel_name]
    assert {"backend", "slots", "slots_in_use", "queue_depth", "recent_tokens_per_s"} <= set(reports[0])
