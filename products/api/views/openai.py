"""OpenAI-compatible endpoints, so existing OpenAI clients can call a product by its slug.

``POST /v1/chat/completions``: ``model`` is a product slug of the key's team; the last user message
fills the product's message input (the kind declares which), earlier messages are the conversation,
and an extra ``inputs`` object may name any other input. The answer's text is the message content;
the kind's whole result rides along in a ``studio`` field (``{"result": ...}``), which OpenAI clients
ignore. Answers of Q&A products also carry a top-level ``citations`` list (``[{"n", "id", "title"}]``,
the passages the answer cites as [n]; empty when it said "I don't know"), in the response and in the
last streamed chunk, with the passages themselves under ``studio.sources``.
Kinds whose result is not text (recommendations) get a 400 naming the REST route instead.
``GET /v1/models`` lists the team's published products. Errors use OpenAI's
``{"error": {"message", "type", "param", "code"}}`` shape so the official client raises the right class.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from asgiref.sync import async_to_sync
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response

from inference.client import collect, stream
from products.api.authentication import CanGenerate
from products.api.selectors import published_product_list
from products.api.streaming import sse_event_schema, sse_frame, sse_response
from products.api.views.base import ApiView
from products.api.views.generate import api_actor, stream_kwargs
from products.generation import GenerationRefused, StartedGeneration, generation_start
from products.kinds import get_kind
from products.kinds.settings import LIMITS
from products.models import Generation, Product

FINISH_REASONS = {"eos": "stop", "stop": "stop", "cancelled": "stop", "length": "length", "time_limit": "length"}
ERROR_TYPES = {
    400: "invalid_request_error", 401: "authentication_error", 403: "permission_error", 404: "not_found_error",
    405: "invalid_request_error", 406: "invalid_request_error", 409: "invalid_request_error",
    415: "invalid_request_error", 429: "rate_limit_error", 502: "api_error", 503: "api_error",
}


class OpenAIError(exceptions.APIException):
    def __init__(self, message: str, *, status_code: int, code: str, param: str | None = None,
                 retry_after_s: int | None = None) -> None:
        super().__init__(message, code=code)
        self.status_code, self.code, self.param = status_code, code, param
        self.wait = retry_after_s  # DRF's exception handler sends it as Retry-After


def _error_body(message: str, *, status_code: int, code: str | None, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": ERROR_TYPES.get(status_code, "api_error"), "param": param,
                      "code": code}}


class OpenAIView(ApiView):
    """Answers errors in OpenAI's shape instead of DRF's ``{"detail": ...}``."""

    def handle_exception(self, exc):
        response = super().handle_exception(exc)
        if isinstance(exc, OpenAIError):
            response.data = _error_body(str(exc.detail), status_code=exc.status_code, code=exc.code, param=exc.param)
        elif isinstance(exc, exceptions.ValidationError):
            param, message = _first_error(exc.detail)
            response.data = _error_body(message, status_code=response.status_code, code="invalid_request", param=param)
        else:
            detail = response.data.get("detail", "The request failed.") if isinstance(response.data, dict) else ""
            code = getattr(detail, "code", None)
            response.data = _error_body(str(detail), status_code=response.status_code, code=code)
        return response


def _first_error(detail, prefix: str = "") -> tuple[str | None, str]:
    if isinstance(detail, dict):
        for key, value in detail.items():
            return _first_error(value, f"{prefix}.{key}" if prefix else str(key))
    if isinstance(detail, list) and detail:
        first = detail[0]
        if isinstance(first, dict | list):
            return _first_error(first, f"{prefix}[0]")
        return prefix or None, f"{prefix}: {first}" if prefix else str(first)
    return prefix or None, str(detail)


def _model_object(product: Product) -> dict[str, Any]:
    return {"id": product.slug, "object": "model", "created": int(product.created_at.timestamp()),
            "owned_by": product.team.slug}


class ModelSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="A product slug.")
    object = serializers.CharField(default="model")
    created = serializers.IntegerField()
    owned_by = serializers.CharField()


class ModelListApi(OpenAIView):
    @extend_schema_serializer(component_name="ModelList")
    class OutputSerializer(serializers.Serializer):
        object = serializers.CharField(default="list")
        data = ModelSerializer(many=True)

    @extend_schema(operation_id="openai_models_list", responses=OutputSerializer)
    def get(self, request):
        products = published_product_list(team=request.auth.team).select_related("team").order_by("slug")
        return Response({"object": "list", "data": [_model_object(product) for product in products]})


class ModelDetailApi(OpenAIView):
    @extend_schema(operation_id="openai_models_read", responses=ModelSerializer)
    def get(self, request, model: str):
        product = published_product_list(team=request.auth.team).select_related("team").filter(slug=model).first()
        if product is None:
            raise OpenAIError(f"The model “{model}” does not exist: use the slug of a published product.",
                              status_code=404, code="model_not_found", param="model")
        return Response(_model_object(product))


def _message_text(content: Any) -> str:
    """A message's text: a string, or the text parts of a list of content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(part.get("text", "") for part in content if isinstance(part, dict)
                         and part.get("type") == "text" and isinstance(part.get("text"), str))
    return ""


class ChatCompletionApi(OpenAIView):
    permission_classes = [CanGenerate]

    @extend_schema_serializer(component_name="ChatCompletion")
    class InputSerializer(serializers.Serializer):
        @extend_schema_serializer(component_name="ChatMessage")
        class MessageInput(serializers.Serializer):
            role = serializers.ChoiceField(choices=["system", "developer", "user", "assistant", "tool", "function"])
            content = serializers.JSONField(required=False, allow_null=True,
                                            help_text="A string, or a list of {type: text, text} parts.")
            name = serializers.CharField(required=False)

        @extend_schema_serializer(component_name="ChatStreamOptions")
        class StreamOptions(serializers.Serializer):
            include_usage = serializers.BooleanField(required=False, default=False)

        model = serializers.CharField(max_length=130, help_text="The slug of one of your team's published products.")
        messages = MessageInput(many=True, allow_empty=False)
        stream = serializers.BooleanField(required=False, default=False, allow_null=True)
        stream_options = StreamOptions(required=False, allow_null=True)
        max_tokens = serializers.IntegerField(required=False, allow_null=True, min_value=1)
        max_completion_tokens = serializers.IntegerField(required=False, allow_null=True, min_value=1)
        temperature = serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=2)
        n = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=1,
                                     help_text="Only 1 is supported.")
        inputs = serializers.DictField(required=False,
                                       help_text="Studio extension: other inputs of the product, by name.")
        user = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=256,
                                     help_text="Your end user's id: keeps them on one side of an A/B split.")

    @extend_schema(
        operation_id="openai_chat_completions",
        request=InputSerializer,
        responses={
            (200, "application/json"): OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="A `chat.completion`. Q&A products add a top-level `citations` list "
                            "(`[{n, id, title, via}]`: the passages the answer cites as [n] (via marker), else those "
                            "whose words it repeats (via quote); empty when it did not know); "
                            "`studio.result` is the kind's whole result and `studio.sources` the passages found.",
            ),
            (200, "text/event-stream"): OpenApiResponse(
                sse_event_schema(events=None, data="A `chat.completion.chunk` as JSON, or `[DONE]` at the end."),
                description="`chat.completion.chunk` objects as `data:` lines, then `data: [DONE]`.",
            ),
        },
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        product = published_product_list(team=request.auth.team).filter(slug=data["model"]).first()
        if product is None:
            raise OpenAIError(f"The model “{data['model']}” does not exist: use the slug of a published product "
                              "(GET /v1/models lists them).", status_code=404, code="model_not_found", param="model")
        kind = get_kind(product.kind)
        if not kind.openai_compatible:
            raise OpenAIError(
                f"“{product.name}” is a {kind.name.lower()} product: its answers are not chat messages. Call "
                f"POST /api/v1/products/{product.slug}/generate/ instead.", status_code=400,
                code="unsupported_product", param="model",
            )
        messages = data["messages"]
        last_user = max((i for i, m in enumerate(messages) if m["role"] == "user"), default=None)
        text = _message_text(messages[last_user].get("content")) if last_user is not None else ""
        earlier = messages[:last_user] if last_user is not None else []
        if not text.strip() and not data.get("inputs"):
            raise OpenAIError("Send at least one user message with text.", status_code=400, code="invalid_request",
                              param="messages")
        settings: dict[str, Any] = {}
        if data.get("max_completion_tokens") or data.get("max_tokens"):
            settings["length"] = data.get("max_completion_tokens") or data.get("max_tokens")
        if data.get("temperature") is not None:
            # OpenAI's scale goes to 2; the studio's creativity stops at its own highest setting.
            settings["creativity"] = min(data["temperature"], LIMITS["creativity"][3])
        conversation = [{"role": m["role"], "content": _message_text(m.get("content"))}
                        for m in earlier if m["role"] in ("user", "assistant")]
        try:
            started = generation_start(
                product=product, version="live", channel=Generation.Channel.API,
                actor=api_actor(request, data.get("user")), message=text, inputs=data.get("inputs"),
                settings=settings, conversation=conversation,
            )
        except GenerationRefused as refused:
            raise _refusal_error(refused) from None
        created = int(time.time())
        if data.get("stream"):
            include_usage = bool((data.get("stream_options") or {}).get("include_usage"))
            return sse_response(_chunks(started, product.slug, created, include_usage))
        final = async_to_sync(collect)(**stream_kwargs(started))
        if final["event"] == "error":
            code = 503 if final["code"] == "engine_unavailable" else 502
            raise OpenAIError(final["message"], status_code=code, code=final["code"])
        usage = final["usage"]
        return Response({
            "id": f"chatcmpl-{started.generations[0].pk}", "object": "chat.completion", "created": created,
            "model": product.slug,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": kind.result_text(final["result"])},
                         "finish_reason": FINISH_REASONS.get(usage["finish_reason"], "stop"), "logprobs": None}],
            "usage": _usage(usage),
            **_citations(final),
            "studio": _studio_extra(final),
        })


def _citations(final: dict[str, Any]) -> dict[str, Any]:
    """The documented top-level ``citations`` field, for results that have them (answers of Q&A products)."""
    citations = (final.get("result") or {}).get("citations")
    return {"citations": citations} if isinstance(citations, list) else {}


def _studio_extra(final: dict[str, Any]) -> dict[str, Any]:
    """The documented extension field: the kind's whole result (and the sources of an answer)."""
    extra = {"result": final["result"], "generation": final["generation"]}
    if "sources" in final:
        extra["sources"] = final["sources"]
    return extra


def _refusal_error(refused: GenerationRefused) -> OpenAIError:
    if refused.code == "invalid_input":
        name, message = next(iter(refused.fields.items()), (None, refused.message))
        return OpenAIError(
            f"{message} The last user message fills the product's message input; pass the others as "
            f"\"inputs\": {{\"{name}\": ...}}.", status_code=400, code="invalid_input", param=f"inputs.{name}",
        )
    if refused.code == "invalid_settings":
        name, message = next(iter(refused.fields.items()), (None, refused.message))
        return OpenAIError(message, status_code=400, code="invalid_request", param=name)
    if refused.code == "rate_limited":
        return OpenAIError(refused.message, status_code=status.HTTP_429_TOO_MANY_REQUESTS, code="rate_limit_exceeded",
                           retry_after_s=refused.retry_after_s)
    return OpenAIError(refused.message, status_code=404 if refused.code == "version_not_found" else 409,
                       code=refused.code, param="model")


def _usage(usage: dict[str, Any]) -> dict[str, int]:
    return {"prompt_tokens": usage["prompt_tokens"], "completion_tokens": usage["completion_tokens"],
            "total_tokens": usage["total_tokens"]}


async def _chunks(started: StartedGeneration, model: str, created: int, include_usage: bool) -> AsyncIterator[bytes]:
    base = {"id": f"chatcmpl-{started.generations[0].pk}", "object": "chat.completion.chunk", "created": created,
            "model": model}

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        return sse_frame({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason,
                                               "logprobs": None}]})

    kind = started.kind
    streamed, sources = False, None
    async for event in stream(**stream_kwargs(started)):
        if event["event"] == "sources":
            sources = event["items"]
        elif event["event"] == "start":
            yield chunk({"role": "assistant", "content": ""})
        elif event["event"] == "token":
            streamed = True
            yield chunk({"content": event["text"]})
        elif event["event"] == "done":
            if not streamed and kind.result_text(event["result"]):  # a kind that answers without tokens
                yield chunk({"content": kind.result_text(event["result"])})
            final = sse_frame({**base, "choices": [{"index": 0, "delta": {}, "logprobs": None,
                                                    "finish_reason": FINISH_REASONS.get(event["usage"]["finish_reason"],
                                                                                        "stop")}],
                               **_citations(event),
                               "studio": _studio_extra(event if sources is None else {**event, "sources": sources})})
            yield final
            if include_usage:
                yield sse_frame({**base, "choices": [], "usage": _usage(event["usage"])})
        elif event["event"] == "error":
            status_code = 503 if event["code"] == "engine_unavailable" else 502
            yield sse_frame(_error_body(event["message"], status_code=status_code, code=event["code"]))
    yield sse_frame("[DONE]")

