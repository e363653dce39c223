"""The widget's websocket (products.consumers.WidgetConsumer): public key + Origin allow-list, generate only.

Through the real ASGI application (studio.asgi), so the routing outside the studio's own origin
validator and session middleware is part of what is tested.
"""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.db import connection

from inference.protocol import ENGINE_UNAVAILABLE
from products import consumers
from products.demo import product_demo_seed
from products.embed.limits import PRODUCT_LIMIT_MESSAGE, VISITOR_LIMIT_MESSAGE
from products.embed.services import product_embed_update, product_public_key_rotate, product_widget_update
from products.embed.tokens import feedback_token
from products.models import Generation, Product
from products.services import product_archive, product_version_create, product_version_publish
from studio.asgi import application
from tests.embed.conftest import SHOP
from tests.fakes import fake_worker

pytestmark = pytest.mark.django_db(transaction=True)

VISITOR = "198.51.100.7"


def _widget(public_key: str, origin: str | None = SHOP, *, visitor: str = VISITOR,
            forwarded_for: str | None = None, host: str = "studio.example") -> WebsocketCommunicator:
    headers = [(b"host", host.encode())]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    if forwarded_for is not None:
        headers.append((b"x-forwarded-for", forwarded_for.encode()))
    communicator = WebsocketCommunicator(application, f"/ws/widget/{public_key}/", headers=headers)
    communicator.scope["client"] = (visitor, 50123)  # the socket peer, as daphne reports it
    return communicator


async def _try(communicator: WebsocketCommunicator) -> tuple[bool, int | None]:
    """(connected, close code) of one connection attempt, with the consumer ended in this test's event loop.

    A refused consumer still waits on its channel-layer channel; left to the loop's teardown, that wait
    can outlive the loop on Redis. Disconnecting ends it here.
    """
    result = await communicator.connect(timeout=5)
    await communicator.disconnect()
    return result


async def _open(public_key: str, origin: str | None = SHOP, **kwargs) -> WebsocketCommunicator:
    communicator = _widget(public_key, origin, **kwargs)
    connected, code = await communicator.connect(timeout=5)
    if not connected:
        await communicator.disconnect()
    assert connected, f"the widget socket was refused with code {code}"
    return communicator


async def _frames_until_end(communicator: WebsocketCommunicator, timeout: float = 60) -> list[dict]:
    frames = []
    while not frames or frames[-1]["event"] not in ("done", "error"):
        frames.append(await communicator.receive_json_from(timeout=timeout))
    return frames


async def _generations() -> list[Generation]:
    def read() -> list[Generation]:
        try:
            return list(Generation.objects.select_related("version", "product"))
        finally:
            # database_sync_to_async's own clean-up runs outside the context that opened this connection
            # after many concurrent calls, and an open connection stops the test database being dropped.
            connection.close()

    return await database_sync_to_async(read)()


async def _flush_unanswered_requests() -> None:
    """Nobody took these requests; drop them so a later test's worker does not answer them."""
    layer = get_channel_layer()
    if hasattr(layer, "flush"):
        await layer.flush()


@pytest.fixture
def shop_widget(make_team, make_widget_product):
    return make_widget_product(make_team("Acme"))


async def test_allowed_website_streams_the_live_version_as_text_and_logs_a_widget_generation(shop_widget):
    async with fake_worker() as runner:
        communicator = await _open(shop_widget.public_key)
        await communicator.send_json_to({"action": "generate", "message": "Our summer sale starts on Monday"})
        frames = await _frames_until_end(communicator)
        await communicator.disconnect()

    [generation] = await _generations()
    start, *tokens, done = frames
    assert start == {"event": "start", "generation": generation.pk, "variant": 0}
    assert tokens == [{"event": "token", "text": text, "variant": 0} for text in ("Dry", " feet", " ahead")]
    assert done == {"event": "done", "generation": generation.pk, "variant": 0, "result": {"text": "Dry feet ahead"},
                    "usage": done["usage"],
                    "feedback_token": feedback_token(public_key=shop_widget.public_key, generation_id=generation.pk)}
    assert generation.output == "Dry feet ahead"
    assert "Our summer sale starts on Monday" in runner.requests[0].messages[-1]["content"]
    assert (generation.channel, generation.status, generation.user_id) == ("widget", "finished", None)
    assert generation.version.pk == shop_widget.live_version_id
    assert generation.inputs["topic"] == "Our summer sale starts on Monday"


@pytest.mark.parametrize("origin", [
    "https://evil.example",
    "http://shop.example",  # same host, other scheme
    "https://shop.example:8443",  # same host, other port
    "https://shop.example.evil.example",
    "null",  # sandboxed iframes and file:// pages
    None,  # no Origin header at all (not a browser)
])
async def test_origin_outside_the_allow_list_gets_no_connection(shop_widget, origin):
    assert await _try(_widget(shop_widget.public_key, origin)) == (False, 4403)


async def test_empty_allow_list_or_unknown_key_gets_no_connection(make_team, make_widget_product):
    product = await database_sync_to_async(make_widget_product)(await database_sync_to_async(make_team)("Acme"),
                                                                origins=[])
    assert await _try(_widget(product.public_key, SHOP)) == (False, 4403)
    assert await _try(_widget("pk_unknown", SHOP)) == (False, 4403)
    assert await _try(_widget("sk_not-a-public-key", SHOP)) == (False, 4403)


async def test_rotated_key_stops_the_old_script_tag(shop_widget):
    old_key = shop_widget.public_key
    await database_sync_to_async(product_public_key_rotate)(product=shop_widget)
    assert await _try(_widget(old_key)) == (False, 4403)
    assert (await _try(_widget(shop_widget.public_key)))[0] is True


async def test_studio_page_itself_may_preview_the_widget_without_being_on_the_allow_list(
    make_team, make_widget_product,
):
    team = await database_sync_to_async(make_team)("Acme")
    product = await database_sync_to_async(make_widget_product)(team, origins=[])
    preview = _widget(product.public_key, "http://localhost:8000", host="localhost:8000")
    assert (await _try(preview))[0] is True
    # A host the studio does not answer to is not "the studio itself", whatever the two headers say.
    spoofed = _widget(product.public_key, "https://evil.example", host="evil.example")
    assert await _try(spoofed) == (False, 4403)
    # Nor is another scheme on the same host and port (foo:// was let in when only host:port was compared).
    for origin in ("foo://localhost:8000", "https://localhost:8000", "http://localhost:8001"):
        assert await _try(_widget(product.public_key, origin, host="localhost:8000")) == (False, 4403), origin
    secure = _widget(product.public_key, "https://localhost:8000", host="localhost:8000")
    secure.scope["scheme"] = "wss"  # the studio itself served over TLS
    assert (await _try(secure))[0] is True


async def test_public_key_only_generates_with_its_product_live_version_and_settings(
    make_team, make_widget_product,
):
    team = await database_sync_to_async(make_team)("Acme")
    product = await database_sync_to_async(make_widget_product)(team, length=8)
    other = await database_sync_to_async(make_widget_product)(team, name="Other product")
    communicator = await _open(product.public_key)
    # Everything a playground socket may choose is ignored: the product, version, inputs and settings.
    async with fake_worker() as runner:
        await communicator.send_json_to({
            "action": "generate", "message": "Opening hours", "product": other.slug, "version": 99,
            "inputs": {"topic": "ignored", "platform": "X"},
            "settings": {"length": 400, "variants": 3, "creativity": 1.5},
        })
        frames = await _frames_until_end(communicator)
    assert runner.requests[0].params["max_new_tokens"] == 8 and runner.requests[0].params["temperature"] == 0
    for action in ({"action": "publish"}, {"action": "feedback", "generation": 1, "value": 1}, {"inputs": {}}):
        await communicator.send_json_to(action)
        assert await communicator.receive_json_from(timeout=5) == {
            "event": "error", "code": "bad_request", "message": consumers.WidgetConsumer.help_text}
    for frame in ({"text_data": "not json {"}, {"bytes_data": b"\x00\x01"}):  # answered, not disconnected
        await communicator.send_to(**frame)
        assert (await communicator.receive_json_from(timeout=5))["code"] == "bad_request"
    await communicator.disconnect()

    [generation] = await _generations()
    assert frames[-1]["event"] == "done" and len([f for f in frames if f["event"] == "done"]) == 1
    assert (generation.product_id, generation.version.number) == (product.pk, 1)
    assert generation.inputs == {"topic": "Opening hours", "platform": "LinkedIn", "tone": "friendly"}


async def test_public_key_cannot_open_the_studio_playground_socket(shop_widget):
    team_slug = await database_sync_to_async(lambda: shop_widget.team.slug)()
    path = f"/ws/t/{team_slug}/products/{shop_widget.slug}/generate/?key={shop_widget.public_key}"
    for origin in (b"http://localhost", SHOP.encode()):
        playground = WebsocketCommunicator(application, path, headers=[(b"host", b"localhost"), (b"origin", origin)])
        assert (await _try(playground))[0] is False


async def test_visitor_limit_sends_the_limit_message_and_starts_nothing(make_team, make_widget_product, settings):
    """Without a worker the first message hears, in a visitor's words, that the chat cannot answer now;
    the second hits the limit. The log keeps the studio's own explanation for the team."""
    settings.INFERENCE_START_TIMEOUT_S = 0.3
    team = await database_sync_to_async(make_team)("Acme")
    product = await database_sync_to_async(make_widget_product)(team, per_visitor_hour=1)
    communicator = await _open(product.public_key)
    await communicator.send_json_to({"action": "generate", "message": "Hello"})
    assert await communicator.receive_json_from(timeout=5) == {
        "event": "error", "code": "engine_unavailable", "variant": 0,
        "message": "This chat cannot answer right now. Please try again in a few minutes."}
    await communicator.send_json_to({"action": "generate", "message": "Hello again"})
    refused = await communicator.receive_json_from(timeout=5)
    assert refused == {"event": "error", "code": "rate_limited", "message": VISITOR_LIMIT_MESSAGE.format(limit=1),
                       "retry_after_s": refused["retry_after_s"]}
    assert 3590 <= refused["retry_after_s"] <= 3600  # when the first message leaves the hour
    await communicator.disconnect()
    await _flush_unanswered_requests()
    assert [(g.status, g.error) for g in await _generations()] == [("failed", ENGINE_UNAVAILABLE)]


async def test_daily_product_limit_counts_every_visitor_together(make_team, make_widget_product, settings):
    settings.INFERENCE_START_TIMEOUT_S = 0.3
    team = await database_sync_to_async(make_team)("Acme")
    product = await database_sync_to_async(make_widget_product)(team, per_day=1)
    first = await _open(product.public_key, visitor="198.51.100.1")
    await first.send_json_to({"action": "generate", "message": "Hello"})
    assert (await first.receive_json_from(timeout=5))["code"] == "engine_unavailable"
    second = await _open(product.public_key, visitor="198.51.100.2")
    await second.send_json_to({"action": "generate", "message": "Hello"})
    refused = await second.receive_json_from(timeout=5)
    assert refused == {"event": "error", "code": "rate_limited", "message": PRODUCT_LIMIT_MESSAGE,
                       "retry_after_s": refused["retry_after_s"]}
    assert 86390 <= refused["retry_after_s"] <= 86400
    await first.disconnect()
    await second.disconnect()
    await _flush_unanswered_requests()
    assert len(await _generations()) == 1


async def test_spoofed_forwarded_for_does_not_reset_the_visitor_limit(make_team, make_widget_product, settings):
    settings.INFERENCE_START_TIMEOUT_S = 0.3
    team = await database_sync_to_async(make_team)("Acme")
    product = await database_sync_to_async(make_widget_product)(team, per_visitor_hour=2)
    codes = []
    for n in range(4):  # a new connection and a new made-up address each time, from the same peer
        communicator = await _open(product.public_key, forwarded_for=f"203.0.113.{n}")
        await communicator.send_json_to({"action": "generate", "message": "Hello"})
        codes.append((await communicator.receive_json_from(timeout=5))["code"])
        await communicator.disconnect()
    await _flush_unanswered_requests()
    assert codes == ["engine_unavailable", "engine_unavailable", "rate_limited", "rate_limited"]


async def test_allow_list_changed_after_connecting_applies_to_the_next_message(shop_widget):
    communicator = await _open(shop_widget.public_key)
    await database_sync_to_async(product_embed_update)(
        product=shop_widget, allowed_origins=["https://other.example"], messages_per_visitor_hour=20,
        messages_per_day=1000,
    )
    await communicator.send_json_to({"action": "generate", "message": "Hello"})
    assert await communicator.receive_json_from(timeout=5) == {
        "event": "error", "code": "unavailable", "message": consumers.WIDGET_GONE}
    await communicator.disconnect()
    assert await _generations() == []


async def test_unpublished_product_tells_the_visitor_it_is_not_open(make_team, make_widget_product):
    team = await database_sync_to_async(make_team)("Acme")
    product = await database_sync_to_async(make_widget_product)(team, published=False)
    communicator = await _open(product.public_key)
    await communicator.send_json_to({"action": "generate", "message": "Hello"})
    assert await communicator.receive_json_from(timeout=5) == {
        "event": "error", "code": "not_published", "message": consumers.VISITOR_ERRORS["not_published"]}
    await communicator.disconnect()
    assert await _generations() == []


async def test_archived_product_tells_the_visitor_it_is_closed(make_team, make_widget_product):
    team = await database_sync_to_async(make_team)("Acme")
    product = await database_sync_to_async(make_widget_product)(team)
    communicator = await _open(product.public_key)
    await database_sync_to_async(product_archive)(product=product)  # archived while a visitor has it open
    await communicator.send_json_to({"action": "generate", "message": "Hello"})
    assert await communicator.receive_json_from(timeout=5) == {
        "event": "error", "code": "archived", "message": "This chat has been closed by its owner."}
    await communicator.disconnect()
    assert await _generations() == []


async def test_fifty_concurrent_messages_against_a_limit_of_ten_let_at_most_ten_through(
    make_team, make_widget_product, settings, pinned_rate_window,
):
    """Fifty visitors' sockets from one address (each claiming another in X-Forwarded-For) send at once.

    The counter is an atomic increment in the shared cache (Redis in CI), so exactly ten pass, and only
    those ten log a generation; without a worker they then hear that the engine is unavailable.
    """
    settings.INFERENCE_START_TIMEOUT_S = 1.0
    team = await database_sync_to_async(make_team)("Acme")
    product = await database_sync_to_async(make_widget_product)(team, per_visitor_hour=10)
    sockets = [await _open(product.public_key, forwarded_for=f"203.0.113.{n}") for n in range(50)]
    await asyncio.gather(*(s.send_json_to({"action": "generate", "message": f"Hello {n}"})
                           for n, s in enumerate(sockets)))
    replies = await asyncio.gather(*(s.receive_json_from(timeout=10) for s in sockets))
    await asyncio.gather(*(s.disconnect() for s in sockets))
    await _flush_unanswered_requests()

    codes = [reply["code"] for reply in replies]
    assert codes.count("engine_unavailable") == 10 and codes.count("rate_limited") == 40, codes
    assert {reply["message"] for reply in replies if reply["code"] == "rate_limited"} == {
        VISITOR_LIMIT_MESSAGE.format(limit=10)}
    assert len(await _generations()) == 10


def _flagship(make_team):
    """The demo's flagship sample, as the one-command studio seeds it, allowed on the shop's website."""
    team = make_team("Demo")
    product_demo_seed(team=team, user=team.memberships.get().user)
    product = Product.objects.get(team=team, name="Shop product descriptions")
    return product_embed_update(product=product, allowed_origins=[SHOP], messages_per_visitor_hour=20,
                                messages_per_day=1000)


async def test_the_flagship_sample_answers_a_visitor_out_of_the_box(make_team):
    product = await database_sync_to_async(_flagship)(make_team)
    message = "Trail running shoes\nWaterproof\nWeighs 220 g"
    async with fake_worker() as runner:
        communicator = await _open(product.public_key)
        await communicator.send_json_to({"action": "generate", "message": message})
        frames = await _frames_until_end(communicator)
        await communicator.disconnect()

    assert [frame["event"] for frame in frames] == ["start", "token", "token", "token", "done"]
    [generation] = await _generations()
    assert generation.inputs == {"product": "", "features": message, "audience": "everyone", "tone": "friendly"}
    assert "Waterproof\nWeighs 220 g" in runner.requests[0].messages[-1]["content"]


async def test_a_default_saved_on_the_embed_tab_answers_visitors_once_its_version_is_published(
    make_team, make_widget_product,
):
    team = await database_sync_to_async(make_team)("Acme")
    product = await database_sync_to_async(make_widget_product)(team, template_id="ad-headlines", name="Headlines")

    async def ask() -> dict:
        async with fake_worker():
            communicator = await _open(product.public_key)
            await communicator.send_json_to({"action": "generate", "message": "Trail shoes"})
            frames = await _frames_until_end(communicator)
            await communicator.disconnect()
        return frames[-1]

    refused = await ask()
    assert (refused["event"], refused["fields"]) == ("error", {"benefit": "Main benefit is required."})

    def publish_draft() -> None:
        version = product_version_create(product=product, user=team.memberships.get().user)
        product_version_publish(product=product, version=version)

    await database_sync_to_async(product_widget_update)(product=product, defaults={"benefit": "dry feet"})
    still_refused = await ask()  # saved in the draft only: the live version is frozen
    assert still_refused["event"] == "error"
    await database_sync_to_async(publish_draft)()
    answered = await ask()
    assert answered["event"] == "done" and answered["result"] == {"text": "Dry feet ahead"}
    generation = [g for g in await _generations() if g.status == "finished"][0]
    assert generation.inputs == {"product": "Trail shoes", "benefit": "dry feet", "tone": "friendly"}
