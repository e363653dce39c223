"""Generation websockets: the playground (team session) and the embed widget (public key + Origin).

Both share one base: validate inputs through the product's kind, rate-limit, hand the request to
an inference worker over the channel layer and relay its events. Subclasses decide who may connect,
which version generates, which limits apply and how a message becomes inputs.

Frames to the browser follow ARCHITECTURE.md: ``start``, ``token``…, then ``done`` or ``error``;
each carries ``variant`` because one press of Generate may write several variants side by side.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from inference.protocol import ENGINE_UNAVAILABLE, REQUEST_CHANNEL, START_TIMEOUT_S, cancel_message, request_message
from products.embed.inputs import inputs_from_message
from products.embed.limits import client_address, widget_limit_check
from products.embed.origins import origin_allowed, same_origin, websocket_is_secure
from products.embed.selectors import product_get_by_public_key
from products.embed.tokens import feedback_token
from products.generation import generation_prepare
from products.kinds.base import InputError
from products.models import Generation, Product, ProductVersion
from products.services import generation_create, generation_finish
from studio import jsonsafe
from studio.models import Membership
from studio.ratelimit import rate_limit_hit
from studio.roles import Role

NOT_PUBLISHED = "This chat is not open yet: its owner has not published a version of it."
WIDGET_GONE = "This chat has been switched off on this website. Reload the page later."
# What a website's visitor reads instead of the studio's own wording (the generation log keeps that).
VISITOR_ERRORS = {
    "engine_unavailable": "This chat cannot answer right now. Please try again in a few minutes.",
    "generation_failed": "Something went wrong while answering. Please send your message again.",
}


class Refused(Exception):
    """A generation the consumer will not start; ``code`` and ``message`` go to the browser."""

    def __init__(self, code: str, message: str) -> None:
        self.code, self.message = code, message
        super().__init__(message)


class BaseGenerationConsumer(AsyncJsonWebsocketConsumer):
    """Shared by every generation socket: validation, rate limit, hand-off and relaying."""

    channel: str = ""  # Generation.Channel value logged with each generation
    help_text = 'Send {"action": "generate", "inputs": {...}} or {"action": "stop"}.'

    # Hooks ---------------------------------------------------------------------------------

    async def authorize(self) -> Product | None:
        """The product this socket generates with, or None to refuse the connection (code 4403)."""
        raise NotImplementedError("Subclasses return the product, or None to refuse, from `authorize()`.")

    async def check_limits(self) -> None:
        """Count one generation against the limits; raise Refused when a limit is reached."""

    async def generation_version(self) -> ProductVersion | None:
        """The version that generates (None: the product's draft); raise Refused when there is none."""
        return None

    def inputs_from(self, content: dict[str, Any], config: Product | ProductVersion) -> dict[str, Any]:
        """The inputs of a ``generate`` message."""
        inputs = content.get("inputs")
        return inputs if isinstance(inputs, dict) else {}

    def settings_from(self, content: dict[str, Any]) -> dict[str, Any] | None:
        """Setting overrides (creativity, length, variants) this socket accepts; None: the version's own."""
        return None

    def generation_user(self):
        return None

    def done_extra(self, generation_id: int) -> dict[str, Any]:
        """Extra keys for the ``done`` frame."""
        return {}

    # Connection ----------------------------------------------------------------------------

    async def connect(self) -> None:
        self.live: dict[str, dict[str, Any]] = {}  # request_id -> variant, generation, worker, timer
        self.product = await self.authorize()
        if self.product is None:
            await self.close(code=4403)
            return
        await self.accept()

    async def disconnect(self, code: int) -> None:
        await self.stop_all()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs) -> None:
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
            await self.stop_all()
        else:
            await self.send_error("bad_request", self.help_text)

    async def generate(self, content: dict[str, Any]) -> None:
        if self.live:
            await self.send_error("busy", "Still writing the previous answer. Press Stop first, or wait.")
            return
        try:
            version = await self.generation_version()
            await self.check_limits()
        except Refused as refused:
            await self.send_error(refused.code, refused.message)
            return
        config = version or self.product
        try:
            prepared = await database_sync_to_async(generation_prepare)(
                product=self.product, version=version, inputs=self.inputs_from(content, config),
                settings=self.settings_from(content),
            )
        except InputError as exc:
            await self.send_json({"event": "error", "code": "invalid_input", "message": str(exc),
                                  "fields": exc.errors})
            return
        for variant in range(prepared.variants):
            generation = await database_sync_to_async(generation_create)(
                product=self.product, version=version, channel=self.channel, user=self.generation_user(),
                inputs=prepared.inputs, variant=variant,
            )
            request_id = uuid.uuid4().hex
            self.live[request_id] = {"variant": variant, "generation": generation.pk, "worker": None}
            self.live[request_id]["timer"] = asyncio.create_task(self._start_timeout(request_id))
            await self.channel_layer.send(REQUEST_CHANNEL, request_message(
                request_id=request_id, generation_id=generation.pk, reply_channel=self.channel_name,
                model=prepared.base_model, adapter=prepared.adapter, messages=prepared.messages,
                params=prepared.params, variant=variant,
            ))

    async def stop_all(self) -> None:
        for request_id, live in list(getattr(self, "live", {}).items()):
            live["stopping"] = True
            if live["worker"]:
                await self.channel_layer.send(live["worker"], cancel_message(request_id))

    async def _start_timeout(self, request_id: str) -> None:
        await asyncio.sleep(START_TIMEOUT_S)
        live = self.live.pop(request_id, None)
        if live is None:
            return
        await database_sync_to_async(generation_finish)(
            generation_id=live["generation"], output="", finish_reason="error", tokens_in=0, tokens_out=0,
            time_to_first_token_s=None, duration_s=START_TIMEOUT_S, error=ENGINE_UNAVAILABLE,
        )
        await self.send_error("engine_unavailable", ENGINE_UNAVAILABLE, variant=live["variant"])

    async def send_error(self, code: str, message: str, **extra: Any) -> None:
        await self.send_json({"event": "error", "code": code, "message": message, **extra})

    # Replies from the inference worker, addressed to this consumer's own channel.

    async def generation_start(self, message: dict[str, Any]) -> None:
        live = self.live.get(message["request_id"])
        if live is None:
            return
        live["timer"].cancel()
        live["worker"] = message["worker_channel"]
        if live.get("stopping"):  # Stop was pressed before the worker picked the request up
            await self.channel_layer.send(live["worker"], cancel_message(message["request_id"]))
        await self.send_json({"event": "start", "generation": live["generation"], "variant": live["variant"]})

    async def generation_token(self, message: dict[str, Any]) -> None:
        live = self.live.get(message["request_id"])
        if live is not None:
            await self.send_json({"event": "token", "text": message["text"], "variant": live["variant"]})

    async def generation_done(self, message: dict[str, Any]) -> None:
        live = self.live.pop(message["request_id"], None)
        if live is not None:
            await self.send_json({"event": "done", "usage": message["usage"], "variant": live["variant"],
                                  "generation": live["generation"], **self.done_extra(live["generation"])})

    async def generation_error(self, message: dict[str, Any]) -> None:
        live = self.live.pop(message["request_id"], None)
        if live is not None:
            live["timer"].cancel()
            await self.send_error(message["code"], message["message"], variant=live["variant"])


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

    async def authorize(self) -> Product | None:
        kwargs = self.scope["url_route"]["kwargs"]
        return await _product_for(self.scope.get("user"), kwargs["team_slug"], kwargs["product_slug"])

    async def check_limits(self) -> None:
        allowed = await sync_to_async(rate_limit_hit, thread_sensitive=False)(
            f"playground:{self.scope['user'].pk}", limit=settings.PLAYGROUND_GENERATIONS_PER_MINUTE, window_s=60
        )
        if not allowed:
            raise Refused("rate_limited", "You are generating very fast. Wait a minute, then try again.")

    def settings_from(self, content: dict[str, Any]) -> dict[str, Any] | None:
        settings_ = content.get("settings")
        return settings_ if isinstance(settings_, dict) else {}

    def generation_user(self):
        return self.scope["user"]


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
    help_text = 'Send {"action": "generate", "message": "..."} or {"action": "stop"}.'

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

    async def check_limits(self) -> None:
        refusal = await sync_to_async(widget_limit_check, thread_sensitive=False)(
            product_id=self.product.pk, visitor=self.visitor,
            per_visitor_hour=self.product.widget_messages_per_visitor_hour,
            per_day=self.product.widget_messages_per_day,
        )
        if refusal:
            raise Refused("rate_limited", refusal)

    async def generation_version(self) -> ProductVersion | None:
        # Fresh each time: a publish, a key rotation or a changed allow-list applies to open chats too.
        product = await database_sync_to_async(product_get_by_public_key)(public_key=self.public_key)
        if product is None or not self._origin_ok(product):
            raise Refused("unavailable", WIDGET_GONE)
        self.product = product
        if product.live_version is None:
            raise Refused("not_published", NOT_PUBLISHED)
        return product.live_version

    def inputs_from(self, content: dict[str, Any], config: Product | ProductVersion) -> dict[str, Any]:
        message = content.get("message")
        return inputs_from_message(kind_id=self.product.kind, config=config,
                                   message=message if isinstance(message, str) else "")

    def settings_from(self, content: dict[str, Any]) -> dict[str, Any] | None:
        return {"variants": 1}  # a chat shows one answer per message

    def done_extra(self, generation_id: int) -> dict[str, Any]:
        return {"feedback_token": feedback_token(public_key=self.product.public_key, generation_id=generation_id)}

    async def send_error(self, code: str, message: str, **extra: Any) -> None:
        await super().send_error(code, VISITOR_ERRORS.get(code, message), **extra)
