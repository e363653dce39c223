"""Generation websockets: the playground (team session) and the embed widget (public key + Origin).

Thin translators, like the SSE view: ``connect`` authenticates, ``generate`` calls the one start
path (products.generation.generation_start) and relays ``inference.client`` events as frames.
Frames follow ARCHITECTURE.md: ``start``, ``queued``, ``sources``, ``token``…, then ``done`` (with
the kind's ``result``) or ``error``; each carries ``variant`` because one press of Generate may
write several variants side by side. A refusal (inputs, limits) is one ``error`` frame without it.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from inference.client import GenerationStream
from products.embed.limits import client_address
from products.embed.origins import origin_allowed, same_origin, websocket_is_secure
from products.embed.selectors import product_get_by_public_key
from products.embed.tokens import feedback_token
from products.generation import (
    Actor,
    GenerationRefused,
    StartedGeneration,
    VersionChoice,
    generation_start,
    visitor_id_clean,
)
from products.models import Generation, Product
from studio import jsonsafe, timeline
from studio.models import Membership
from studio.roles import Role

WIDGET_GONE = "This chat has been switched off on this website. Reload the page later."
# What a website's visitor reads instead of the studio's own wording (the generation log keeps that).
VISITOR_ERRORS = {
    "engine_unavailable": "This chat cannot answer right now. Please try again in a few minutes.",
    "generation_failed": "Something went wrong while answering. Please send your message again.",
    "not_published": "This chat is not open yet: its owner has not published a version of it.",
    "archived": "This chat has been closed by its owner.",
    "knowledge_not_ready": "This chat cannot answer yet. Please try again in a few minutes.",
}


class BaseGenerationConsumer(AsyncJsonWebsocketConsumer):
    """Shared by every generation socket: hand-off to the start path and relaying."""

    channel: str = ""  # Generation.Channel value logged with each generation
    version: VersionChoice = "draft"
    help_text = ('Send {"action": "generate", "inputs": {...}}, {"action": "stop"} to stop every variant, '
                 'or {"action": "stop", "variant": 0} to stop one.')

    # Hooks ---------------------------------------------------------------------------------

    async def authorize(self) -> Product | None:
        """The product this socket generates with, or None to refuse the connection (code 4403)."""
        raise NotImplementedError("Subclasses return the product, or None to refuse, from `authorize()`.")

    def current_product(self) -> Product:
        """The product as it is now (a publish or a changed allow-list applies to open sockets too).

        Runs in the database thread, in the same trip as generation_start: one hop before the request leaves.
        """
        return self.product

    def start_arguments(self, content: dict[str, Any]) -> dict[str, Any]:
        """What a ``generate`` message asks generation_start for: inputs or a message, settings, earlier turns.

        ``conversation`` goes through as sent: generation_start keeps only well-formed user/assistant turns.
        """
        inputs, settings_ = content.get("inputs"), content.get("settings")
        return {"inputs": inputs if isinstance(inputs, dict) else {},
                "settings": settings_ if isinstance(settings_, dict) else {},
                "conversation": content.get("conversation")}

    def actor(self, content: dict[str, Any]) -> Actor:
        """Who sends ``content`` (its stable id decides the arm of an A/B split)."""
        return Actor()

    def done_extra(self, generation_id: int) -> dict[str, Any]:
        """Extra keys for the ``done`` frame."""
        return {}

    # Connection ----------------------------------------------------------------------------

    async def connect(self) -> None:
        self.streams: dict[int, GenerationStream] = {}
        self.relays: set[asyncio.Task] = set()
        self.product = await self.authorize()
        if self.product is None:
            await self.close(code=4403)
            return
        await self.accept()

    async def disconnect(self, code: int) -> None:
        for relay in list(getattr(self, "relays", ())):
            relay.cancel()  # the stream cancels its work on the worker as it closes

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs) -> None:
        self.received_at = time.monotonic()  # where a generation's time to first token starts (studio/timeline.py)
        # A frame that is not JSON text gets the same answer as a wrong action, not a dropped connection;
        # so does one nested too deep for json.loads (RecursionError closed the socket with 1011).
        try:
            content = jsonsafe.loads(text_data) if text_data else None
        except ValueError:
            content = None
        await self.receive_json(content, **kwargs)

    async def receive_json(self, content: Any, **kwargs) -> None:
        action = content.get("action") if isinstance(content, dict) else None
        if action == "generate":
            await self.generate(content)
        elif action == "stop":
            await self.stop(content.get("variant"))
        else:
            await self.send_error("bad_request", self.help_text)

    async def stop(self, variant: Any) -> None:
        """Stop one variant, or every one when ``variant`` is None; each still ends with its ``done`` frame.

        A variant that has already finished (or never ran) is nothing to stop: Stop raced its last frame.
        """
        if variant is None:
            streams = list(self.streams.values())
        elif isinstance(variant, int) and not isinstance(variant, bool):
            streams = [self.streams[variant]] if variant in self.streams else []
        else:
            await self.send_error("bad_request", self.help_text)
            return
        for stream in streams:
            await stream.stop()

    async def generate(self, content: dict[str, Any]) -> None:
        if self.streams:
            await self.send_error("busy", "Still writing the previous answer. Press Stop first, or wait.")
            return
        try:
            started = await database_sync_to_async(self._start)(content)
        except GenerationRefused as refused:
            extra = {"fields": refused.fields} if refused.fields else {}
            if refused.retry_after_s is not None:
                extra["retry_after_s"] = refused.retry_after_s
            await self.send_error(refused.code, refused.message, **extra)
            return
        self._relay_all(started)

    def _start(self, content: dict[str, Any]) -> StartedGeneration:
        # One trip to the database thread for the product as it is now and the start path, not one each: on a
        # busy machine every trip waits to be scheduled, before the first token.
        return generation_start(product=self.current_product(), version=self.version, channel=self.channel,
                                actor=self.actor(content), **self.start_arguments(content))

    def _relay_all(self, started: StartedGeneration) -> None:
        for variant, generation in enumerate(started.generations):
            stream = GenerationStream(request=started.request, generation_id=generation.pk,
                                      channel_layer=self.channel_layer)
            timeline.mark(stream.request_id, "ws.receive", at=getattr(self, "received_at", None))
            timeline.mark(stream.request_id, "start.done")
            self.streams[variant] = stream
            relay = asyncio.create_task(self._relay(variant, stream))
            self.relays.add(relay)
            relay.add_done_callback(self.relays.discard)

    async def _relay(self, variant: int, stream: GenerationStream) -> None:
        first_token = True
        try:
            async for event in stream.events():
                await self.send_event(event, variant)
                if first_token and event["event"] == "token":
                    first_token = False
                    timeline.mark(stream.request_id, "ws.token_sent")
        finally:
            self.streams.pop(variant, None)

    async def send_event(self, event: dict[str, Any], variant: int) -> None:
        if event["event"] == "error":
            await self.send_error(event["code"], event["message"], variant=variant)
            return
        extra = self.done_extra(event["generation"]) if event["event"] == "done" else {}
        await self.send_json({**event, "variant": variant, **extra})

    async def send_error(self, code: str, message: str, **extra: Any) -> None:
        await self.send_json({"event": "error", "code": code, "message": message, **extra})


@database_sync_to_async
def _product_for(user, team_slug: str, product_slug: str) -> Product | None:
    if not user or not user.is_authenticated:
        return None
    membership = Membership.objects.filter(user=user, team__slug=team_slug).first()
    if membership is None or not membership.can(Role.EDITOR):
        return None
    return Product.objects.filter(team_id=membership.team_id, slug=product_slug).first()


class GenerationConsumer(BaseGenerationConsumer):
    """The playground: a team editor's session generates with the product's draft."""

    channel = Generation.Channel.PLAYGROUND
    version = "draft"

    async def authorize(self) -> Product | None:
        kwargs = self.scope["url_route"]["kwargs"]
        return await _product_for(self.scope.get("user"), kwargs["team_slug"], kwargs["product_slug"])

    def current_product(self) -> Product:
        # The draft as saved now: a person may save new settings while the socket stays open.
        return Product.objects.select_related("live_version").get(pk=self.product.pk)

    def actor(self, content: dict[str, Any]) -> Actor:
        return Actor(user=self.scope["user"])


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin1")
    return None


def _same_origin(scope: dict[str, Any], origin: str | None) -> bool:
    """True when the page is the studio itself (the Embed tab's live preview): scheme, host and port."""
    host = _header(scope, b"host")
    if not same_origin(origin, host, secure=websocket_is_secure(scope)):
        return False
    from django.http.request import split_domain_port, validate_host

    domain, _ = split_domain_port(host)
    return validate_host(domain, settings.ALLOWED_HOSTS)


class WidgetConsumer(BaseGenerationConsumer):
    """The embed widget on a customer's website: public key + Origin allow-list, live version only.

    Routed outside the studio's own origin validator and session middleware (studio/asgi.py): the
    public key can do nothing but generate with its product, from the product's allowed websites.
    """

    channel = Generation.Channel.WIDGET
    version = "live"
    help_text = 'Send {"action": "generate", "message": "...", "visitor": "<your random id>"} or {"action": "stop"}.'

    async def authorize(self) -> Product | None:
        self.public_key = self.scope["url_route"]["kwargs"]["public_key"]
        self.origin = _header(self.scope, b"origin")
        product = await database_sync_to_async(product_get_by_public_key)(public_key=self.public_key)
        if product is None or not self._origin_ok(product):
            return None
        client = self.scope.get("client") or (None, None)
        self.visitor = client_address(client[0], _header(self.scope, b"x-forwarded-for"))
        return product

    def _origin_ok(self, product: Product) -> bool:
        return origin_allowed(self.origin, product.allowed_origins) or _same_origin(self.scope, self.origin)

    def current_product(self) -> Product:
        # Fresh each time: a publish, a key rotation or a changed allow-list applies to open chats too.
        product = product_get_by_public_key(public_key=self.public_key)
        if product is None or not self._origin_ok(product):
            raise GenerationRefused("unavailable", WIDGET_GONE)
        self.product = product
        return product

    def start_arguments(self, content: dict[str, Any]) -> dict[str, Any]:
        message = content.get("message")
        return {"message": message if isinstance(message, str) else "", "conversation": content.get("conversation")}

    def actor(self, content: dict[str, Any]) -> Actor:
        # The address counts rate limits; the widget's own random id (kept in the site's localStorage) is
        # who the visitor is for an A/B split and the logs.
        return Actor(visitor=self.visitor, visitor_id=visitor_id_clean(content.get("visitor")))

    def done_extra(self, generation_id: int) -> dict[str, Any]:
        return {"feedback_token": feedback_token(public_key=self.product.public_key, generation_id=generation_id)}

    async def send_error(self, code: str, message: str, **extra: Any) -> None:
        await super().send_error(code, VISITOR_ERRORS.get(code, message), **extra)
