"""The remote backend against a real OpenAI-compatible server: a second live studio (daphne, embedded worker,
the real SmolLM2) serving its own /v1/chat/completions, which the test allows as engine "studio2".

The second studio runs on the in-memory channel layer (REDIS_URL empty), so only its own worker answers its
requests and only this test's worker (on Redis) answers ours. It shares the test database, so the remote
side's own Generation row shows what it produced and when its request ended. The "down" and "silent"
servers are real sockets (tests/openai_server.py): a port nothing listens on, and one that accepts and never answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.core.cache import cache

from products.api.services import api_key_create
from products.models import Generation, Product
from products.remote_engines import NOT_ALLOWED, api_key_encrypt
from products.services import (
    product_create,
    product_draft_update,
    product_engine_update,
    product_version_create,
    product_version_publish,
)
from studio.asgi import application
from tests.live import free_port, studio_process
from tests.openai_server import QuietHandler, content_chunk, finish_chunk, serving, silent_server, sse_event
from tests.studio.test_websocket_routing import _session_cookie_for

# Only the tests that meet the second studio load its model: they carry the model mark.
pytestmark = pytest.mark.django_db(transaction=True)

INPUTS = {"product": "Trail running shoes", "benefit": "dry feet", "tone": "bold"}


@pytest.fixture(scope="module")
def live_studio(django_db_setup, live_media_root):
    """The remote studio: its own in-memory channel layer and embedded worker, on the shared test database."""
    with studio_process(MEDIA_ROOT=str(live_media_root), REDIS_URL="", STUDIO_REMOTE_ENGINES="") as url:
        yield url


@pytest.fixture
async def worker():
    """This studio's inference worker (real runners) on the test's loop and Redis channel layer."""
    from inference.worker import InferenceWorker

    task = asyncio.create_task(InferenceWorker(get_channel_layer()).run())
    yield task
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def _product(team, owner, *, name: str, length: int, template_id: str = "ad-headlines",
             prompt_template: str | None = None) -> Product:
    product = product_create(team=team, user=owner, kind_id="copywriting", template_id=template_id, name=name)
    product_draft_update(product=product, system_prompt=product.system_prompt,
                         prompt_template=prompt_template or product.prompt_template,
                         settings={"creativity": 0, "length": length, "variants": 1})
    return product


@pytest.fixture
def remote(live_server_url, make_team, settings):
    """A published product on the remote studio (its slug is the remote model) and a key of its team.

    A social post: a chat message fills its one free-text input, so our whole prompt reaches the remote model;
    asked for a long text, so a stopped request is still writing when Stop arrives.
    """
    cache.clear()
    team = make_team("Remote")
    owner = team.memberships.get().user
    served = _product(team, owner, name="Remote writer", length=1024, template_id="social-post",
                      prompt_template="Write a long essay of at least thirty paragraphs about this: {topic}")
    product_version_publish(product=served, version=product_version_create(product=served, user=owner))
    key = api_key_create(team=team, user=owner, name="Acme's studio", scope="generate").secret
    settings.REMOTE_ENGINES = {"studio2": f"{live_server_url}/v1"}
    settings.REMOTE_READ_TIMEOUT_S = 120
    return served, key


@pytest.fixture
def acme(make_team):
    cache.clear()
    team = make_team("Acme")
    return team, team.memberships.get().user


async def _connect(product, user) -> WebsocketCommunicator:
    cookie = await _session_cookie_for(user)
    communicator = WebsocketCommunicator(
        application, f"/ws/t/{product.team.slug}/products/{product.slug}/generate/",
        headers=[(b"origin", b"http://localhost"), (b"host", b"localhost"), (b"cookie", cookie.encode())],
    )
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def _frames(communicator, *, timeout: float = 240, stop_after_first_token: bool = False) -> list[dict]:
    frames = []
    while True:
        frame = await communicator.receive_json_from(timeout=timeout)
        frames.append(frame)
        if stop_after_first_token and frame["event"] == "token" and sum(f["event"] == "token" for f in frames) == 1:
            await communicator.send_json_to({"action": "stop"})
        if frame["event"] in ("done", "error"):
            return frames


def _row(product: Product) -> Generation:
    return Generation.objects.select_related("version").filter(product=product).get()


async def _generate(product, user, *, length: int = 12, **kwargs) -> tuple[list[dict], float]:
    communicator = await _connect(product, user)
    started = time.monotonic()
    await communicator.send_json_to({"action": "generate", "inputs": INPUTS,
                                     "settings": {"creativity": 0, "length": length, "variants": 1}})
    frames = await _frames(communicator, **kwargs)
    elapsed = time.monotonic() - started
    await communicator.disconnect()
    return frames, elapsed


@pytest.mark.model
async def test_a_version_on_a_remote_engine_streams_its_tokens_and_records_the_remote_usage(remote, acme, worker):
    served, key = remote
    team, owner = acme
    product = await database_sync_to_async(_product)(team, owner, name="Headlines", length=12)
    await database_sync_to_async(product_engine_update)(product=product, remote_engine="studio2",
                                                        remote_model=served.slug, api_key=key)
    frames, _ = await _generate(product, owner, length=12)

    ours = await database_sync_to_async(_row)(product)
    theirs = await database_sync_to_async(_row)(served)  # what the remote server itself produced and counted
    tokens = [frame["text"] for frame in frames if frame["event"] == "token"]
    assert frames[0]["event"] == "start" and frames[-1]["event"] == "done", frames
    assert tokens and "".join(tokens) == ours.output == theirs.output == frames[-1]["result"]["text"]
    usage = frames[-1]["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == (theirs.tokens_in, theirs.tokens_out)
    assert 0 < theirs.tokens_out <= 12 and theirs.tokens_in > 0
    assert (ours.tokens_in, ours.tokens_out, ours.status) == (theirs.tokens_in, theirs.tokens_out, "finished")
    # OpenAI's "stop" stands for both the model ending and a stop string; the studio reads it as eos.
    expected = {"length": "length", "time_limit": "length", "eos": "eos", "stop": "eos"}[theirs.finish_reason]
    assert ours.finish_reason == usage["finish_reason"] == expected
    assert 0 < ours.time_to_first_token_ms <= ours.duration_ms
    assert theirs.channel == "api"


@pytest.mark.model
async def test_stop_ends_the_request_on_the_remote_server(remote, acme, worker):
    served, key = remote
    team, owner = acme
    product = await database_sync_to_async(_product)(team, owner, name="Long copy", length=1024)
    await database_sync_to_async(product_engine_update)(product=product, remote_engine="studio2",
                                                        remote_model=served.slug, api_key=key)
    # Warm the remote model first, so the stopped request is one that is writing, not one still loading.
    await _generate(product, owner, length=8)
    await database_sync_to_async(Generation.objects.all().delete)()

    frames, _ = await _generate(product, owner, length=1024, stop_after_first_token=True)
    assert frames[-1]["event"] == "done" and frames[-1]["usage"]["finish_reason"] == "cancelled", frames
    ours = await database_sync_to_async(_row)(product)
    assert (ours.finish_reason, ours.status) == ("cancelled", "finished")

    deadline = time.monotonic() + 15
    theirs = await database_sync_to_async(_row)(served)
    while theirs.status == "running" and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        theirs = await database_sync_to_async(_row)(served)
    assert theirs.finish_reason == "cancelled", (theirs.status, theirs.finish_reason, theirs.tokens_out)
    assert theirs.tokens_out < 1024


@pytest.mark.model
async def test_the_openai_endpoint_answers_from_a_published_version_on_a_remote_engine(remote, acme, worker):
    """The widget, REST and /v1 share one start path; /v1 here, with the version frozen and published."""
    from tests.api.test_generate_stream import KeyClient

    served, key = remote
    team, owner = acme

    def publish() -> Product:
        product = _product(team, owner, name="Posts", length=10, template_id="social-post")
        product_engine_update(product=product, remote_engine="studio2", remote_model=served.slug, api_key=key)
        product_version_publish(product=product, version=product_version_create(product=product, user=owner))
        product_engine_update(product=product, remote_engine="", remote_model="")  # the draft moves on; live stays
        return product

    product = await database_sync_to_async(publish)()
    ours_key = await database_sync_to_async(lambda: api_key_create(team=team, user=owner, name="App",
                                                                   scope="generate").secret)()
    response = await KeyClient(ours_key).post("/v1/chat/completions", {
        "model": product.slug, "messages": [{"role": "user", "content": "Our bakery opens on Mill Road"}],
        "max_tokens": 10, "temperature": 0})
    assert response.status_code == 200, response.content
    body = response.json()
    ours = await database_sync_to_async(_row)(product)
    theirs = await database_sync_to_async(_row)(served)
    assert body["choices"][0]["message"]["content"] == ours.output == theirs.output and ours.output.strip()
    assert body["usage"]["completion_tokens"] == ours.tokens_out == theirs.tokens_out <= 10
    assert ours.version.number == 1 and ours.channel == theirs.channel == "api"


@pytest.mark.model
async def test_test_connection_names_the_model_and_the_time_or_says_what_is_wrong(remote, acme):
    served, key = remote
    from django.test import AsyncClient

    team, owner = acme
    product = await database_sync_to_async(_product)(team, owner, name="Checked", length=12)
    client = AsyncClient()
    await client.aforce_login(owner)
    url = f"/t/{team.slug}/products/{product.slug}/engine/check/"

    ok = (await client.post(url, {"remote_engine": "studio2", "remote_model": served.slug, "api_key": key})).content
    assert f"connected: model {served.slug}, ".encode() in ok and b" ms" in ok
    missing = (await client.post(url, {"remote_engine": "studio2", "remote_model": "nope", "api_key": key})).content
    assert f"but it has no model “nope”. It serves: {served.slug}.".encode() in missing
    wrong = (await client.post(url, {"remote_engine": "studio2", "remote_model": served.slug,
                                     "api_key": "sk_wrong"})).content.decode()
    assert "The remote engine “studio2” refused the API key (HTTP 401)" in wrong and "sk_wrong" not in wrong


@pytest.mark.parametrize("server", ["down", "silent"])
async def test_a_down_or_silent_engine_is_reported_in_words_within_seconds_and_the_row_fails(
    acme, worker, settings, server,
):
    team, owner = acme
    settings.REMOTE_READ_TIMEOUT_S = 1.0
    with contextlib.ExitStack() as stack:
        url = f"http://127.0.0.1:{free_port()}/v1" if server == "down" else stack.enter_context(silent_server())
        settings.REMOTE_ENGINES = {"gpu": url}
        product = await database_sync_to_async(_product)(team, owner, name="Headlines", length=12)
        await database_sync_to_async(product_engine_update)(product=product, remote_engine="gpu", remote_model="m")
        frames, elapsed = await _generate(product, owner, timeout=20)
    why = "it refused the connection or cannot be reached" if server == "down" else "silent for 1 s"
    message = (f"The remote engine “gpu” is not answering ({why}). Try again in a minute; if it keeps happening, "
               "tell the studio's operator.")
    assert frames[-1] == {"event": "error", "code": "generation_failed", "message": message, "variant": 0}
    assert elapsed < 5
    row = await database_sync_to_async(_row)(product)
    assert (row.status, row.finish_reason, row.error) == ("failed", "error", message)


async def test_a_version_whose_engine_the_operator_removed_is_refused_in_words(acme, worker, settings):
    team, owner = acme
    settings.REMOTE_ENGINES = {"gpu": f"http://127.0.0.1:{free_port()}/v1"}
    product = await database_sync_to_async(_product)(team, owner, name="Headlines", length=12)
    await database_sync_to_async(product_engine_update)(product=product, remote_engine="gpu", remote_model="m")
    settings.REMOTE_ENGINES = {}  # the operator took it off the list after the version was saved
    frames, _ = await _generate(product, owner, timeout=20)
    assert frames[-1] == {"event": "error", "code": "generation_failed", "message": NOT_ALLOWED.format(name="gpu"),
                          "variant": 0}
    row = await database_sync_to_async(_row)(product)
    assert (row.status, row.error) == ("failed", NOT_ALLOWED.format(name="gpu"))


def _remote_request(settings, *, engine: str, url: str, **params):
    """A generate request for a remote engine the operator allowed (``engine`` → ``url``), sent straight to it."""
    from inference.protocol import InferenceRequest, Task

    settings.REMOTE_ENGINES = {engine: url}
    return InferenceRequest(task=Task.GENERATE, model="", messages=[{"role": "user", "content": "hi"}],
                            params=params, remote={"engine": engine, "model": "m", "api_key": ""})


@contextlib.contextmanager
def trickling_server():
    """A real OpenAI-style SSE server (stdlib http.server in a thread) that writes one token every 0.1 s for
    a minute; ``closed`` is set when the client hangs up, which is how a server learns a request ended."""
    closed = threading.Event()

    class Handler(QuietHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            self.read_json()
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            try:
                for n in range(600):
                    self.wfile.write(sse_event(content_chunk(f" w{n}")))
                    self.wfile.flush()
                    time.sleep(0.1)
            except OSError:
                closed.set()

    with serving(Handler) as url:
        yield url, closed


@pytest.mark.parametrize("ending", ["time_limit", "cancelled"])
async def test_a_slow_remote_answer_ends_at_the_time_limit_or_on_stop_and_the_server_sees_the_hang_up(
    settings, ending,
):
    from inference.engines.remote import remote_generate
    from inference.runners import Result, RunContext, Token

    with trickling_server() as (url, closed):
        request = _remote_request(settings, engine="slow", url=url, max_new_tokens=1000, max_seconds=1.0)
        context = RunContext("r1")
        events, started = [], time.monotonic()
        async for event in remote_generate(request, context):
            events.append(event)
            if ending == "cancelled" and sum(isinstance(e, Token) for e in events) == 3:
                context.cancel()
        elapsed = time.monotonic() - started
        result = events[-1]
        assert isinstance(result, Result) and result.finish_reason == ending
        tokens = [e.text for e in events if isinstance(e, Token)]
        assert result.text == "".join(tokens) and result.usage["completion_tokens"] == len(tokens)
        assert result.usage["finish_reason"] == ending
        assert (elapsed < 1.6) if ending == "time_limit" else (len(tokens) <= 4 and elapsed < 1.0)
        assert closed.wait(3), "the server never saw the client hang up"


@pytest.mark.model
async def test_a_qa_answer_on_a_remote_engine_streams_the_remote_text_with_local_sources_and_citations(remote, acme):
    """Retrieval, sources and citations stay in this studio; only the writing comes from the remote engine."""
    from inference.knowledge.search import index_cache
    from inference.protocol import InferenceRequest, Task
    from inference.registry import DEFAULT_MODEL_ID
    from inference.runners import Result, RunContext, Sources, Token
    from inference.runners.answer import answer
    from tests.inference.knowledge import HELP_CENTRE, built_index, knowledge_version

    served, key = remote
    team, owner = acme
    index_cache().clear()
    index = await database_sync_to_async(lambda: built_index(knowledge_version(team, owner)))()
    question = "How much does express delivery cost?"
    request = InferenceRequest(
        task=Task.ANSWER, model=DEFAULT_MODEL_ID,
        messages=[{"role": "system", "content": "You answer for a shop."}, {"role": "user", "content": question}],
        params={"max_new_tokens": 12, "temperature": 0},
        retrieval={"index": index.pk, "team": team.pk, "question": question, "top_k": 3, "threshold": 0.2},
        remote={"engine": "studio2", "model": served.slug,
                "api_key": await database_sync_to_async(api_key_encrypt)(key)},
    )
    events = [event async for event in answer(request, RunContext("qa-remote"))]

    assert isinstance(events[0], Sources) and events[0].items[0]["title"] == "Shipping costs"
    assert events[0].items[0]["text"] == HELP_CENTRE[0][1]
    result = events[-1]
    assert isinstance(result, Result) and result.finish_reason in ("eos", "length"), result
    tokens = [event.text for event in events if isinstance(event, Token)]
    theirs = await database_sync_to_async(_row)(served)  # the remote studio wrote the answer, and counted it
    assert tokens and "".join(tokens) == result.text == theirs.output
    assert result.usage["completion_tokens"] == theirs.tokens_out <= 12
    given = {item["n"] for item in events[0].items}
    assert result.payload["abstained"] is False and all(c["n"] in given for c in result.payload["citations"])
    assert theirs.channel == "api"


@contextlib.contextmanager
def keep_alive_server(*, hold_after_done_s: float = 0.0):
    """A real OpenAI-style SSE server speaking HTTP/1.1 with keep-alive (chunked bodies, the last chunk written
    after ``data: [DONE]`` as servers do, or ``hold_after_done_s`` later); ``peers`` lists the client address of every
    request it answered."""
    peers: list[tuple[str, int]] = []

    class Handler(QuietHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):  # noqa: N802 - http.server's naming
            self.read_json()
            peers.append(self.client_address)
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunks = [content_chunk("Dry"), content_chunk(" feet"),
                      finish_chunk("stop", {"prompt_tokens": 5, "completion_tokens": 2}), "[DONE]"]
            for event in map(sse_event, chunks):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
                self.wfile.flush()
            time.sleep(hold_after_done_s)
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

    with serving(Handler) as url:
        yield url, peers


async def test_consecutive_remote_generations_reuse_one_kept_alive_connection(settings):
    from inference.engines.remote import remote_generate
    from inference.runners import Result, RunContext, Token

    with keep_alive_server() as (url, peers):
        request = _remote_request(settings, engine="pooled", url=url, max_new_tokens=8)
        for number in range(3):
            events = [event async for event in remote_generate(request, RunContext(f"r{number}"))]
            assert [e.text for e in events if isinstance(e, Token)] == ["Dry", " feet"]
            assert isinstance(events[-1], Result) and (events[-1].finish_reason, events[-1].text) == ("eos", "Dry feet")
            assert events[-1].usage["completion_tokens"] == 2
        # One connection for all three: a new one would cost a TCP (and TLS) handshake before each first token.
        assert len(peers) == 3 and len(set(peers)) == 1, peers


async def test_a_remote_that_holds_its_stream_open_after_done_still_ends_the_generation_as_written(settings):
    from inference.engines import remote as remote_engine
    from inference.runners import Result, RunContext

    drain_s = remote_engine.DRAIN_AFTER_DONE_S
    with keep_alive_server(hold_after_done_s=drain_s + 4) as (url, _peers):
        request = _remote_request(settings, engine="lingering", url=url, max_new_tokens=8)
        started = time.monotonic()
        events = [event async for event in remote_engine.remote_generate(request, RunContext("held"))]
        waited = time.monotonic() - started
    result = events[-1]
    # Done as written (not an error from the read timeout), and without waiting for the server to end its body.
    assert isinstance(result, Result) and (result.finish_reason, result.text) == ("eos", "Dry feet"), result
    assert waited < drain_s + 3, waited
