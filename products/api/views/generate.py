"""Generate with a product: one JSON answer, or Server-Sent Events as the model writes."""

from __future__ import annotations

from collections.abc import AsyncIterator

from asgiref.sync import async_to_sync
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, NotFound, Throttled, ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from inference.client import collect, stream
from products.api.authentication import CanGenerate
from products.api.serializers import UsageSerializer
from products.api.streaming import (
    EventStreamRenderer,
    sse_event_schema,
    sse_frame,
    sse_response,
    wants_event_stream,
)
from products.api.views.base import ApiView
from products.generation import Actor, GenerationRefused, StartedGeneration, generation_start, visitor_id_clean
from products.models import Generation
from products.selectors import product_get

UNPUBLISHED_HINT = " Or pass \"version\": <number> to call a saved one."


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class EngineUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "engine_unavailable"


class GenerationFailed(APIException):
    status_code = status.HTTP_502_BAD_GATEWAY
    default_code = "generation_failed"


def refusal_to_api_error(refused: GenerationRefused) -> APIException:
    """The HTTP error for a refused generation (shared with the OpenAI-compatible endpoint)."""
    if refused.code == "invalid_input":
        return ValidationError({"inputs": refused.fields})
    if refused.code == "invalid_settings":
        return ValidationError({"settings": refused.fields})
    if refused.code == "rate_limited":
        throttled = Throttled(detail=refused.message)
        # Set after construction: DRF's handler sends it as Retry-After, and the message keeps its words.
        throttled.wait = refused.retry_after_s
        return throttled
    if refused.code == "version_not_found":
        return NotFound(refused.message)
    if refused.code == "not_published":
        return Conflict(refused.message + UNPUBLISHED_HINT, code=refused.code)
    return Conflict(refused.message, code=refused.code)


#: Who an API call is for, when the body has no ``user``: the caller's own end user, kept on one arm of a split.
VISITOR_HEADER = "X-Studio-Visitor"


def api_actor(request, user: str | None = None) -> Actor:
    """The key, and the end user the call is for: ``user`` (OpenAI-style) or the X-Studio-Visitor header.

    Without either, the key itself is the stable id, so a whole backend stays on one arm of a split.
    """
    return Actor(api_key=request.auth, visitor_id=visitor_id_clean(user or request.headers.get(VISITOR_HEADER)))


def api_generation_start(*, request, product, inputs, version: int | None = None, settings=None, message=None,
                         conversation=None, user: str | None = None) -> StartedGeneration:
    """generation_start for an API key (the live version unless ``version`` names one); HTTP errors on refusal."""
    try:
        return generation_start(
            product=product, version=version or "live", channel=Generation.Channel.API,
            actor=api_actor(request, user), inputs=inputs, message=message, settings=settings,
            conversation=conversation,
        )
    except GenerationRefused as refused:
        raise refusal_to_api_error(refused) from None


def stream_kwargs(started: StartedGeneration) -> dict:
    return {"request": started.request, "generation_id": started.generations[0].pk}


async def _event_frames(started: StartedGeneration) -> AsyncIterator[bytes]:
    async for event in stream(**stream_kwargs(started)):
        yield sse_frame(event, event=event["event"])


class ProductGenerateApi(ApiView):
    permission_classes = [CanGenerate]
    renderer_classes = [JSONRenderer, EventStreamRenderer]

    @extend_schema_serializer(component_name="Generate")
    class InputSerializer(serializers.Serializer):
        @extend_schema_serializer(component_name="GenerateSettings")
        class SettingsInput(serializers.Serializer):
            # Shape only: the limits are the kinds' settings form's (products/kinds/settings.py).
            creativity = serializers.FloatField(required=False, help_text="0 to 1.5.")
            length = serializers.IntegerField(required=False, help_text="8 to 1024 tokens.")

        inputs = serializers.DictField(help_text="The product's inputs by name (see the product's `inputs`).")
        version = serializers.IntegerField(required=False, min_value=1,
                                           help_text="A saved version number; the live version when left out.")
        settings = SettingsInput(required=False, help_text="Override the version's creativity or length.")
        conversation = serializers.ListField(
            child=serializers.DictField(child=serializers.CharField()), required=False, max_length=50,
            help_text="Earlier turns of a chat, oldest first: [{\"role\": \"user\"|\"assistant\", \"content\"}].",
        )
        stream = serializers.BooleanField(
            default=False, help_text="Stream Server-Sent Events (start, token…, done or error) as the model writes."
        )
        user = serializers.CharField(
            required=False, allow_blank=True, max_length=256,
            help_text="Your end user's id: keeps them on one side of an A/B split (else the X-Studio-Visitor "
                      "header, else the API key, which puts all your calls on one side).",
        )

    @extend_schema_serializer(component_name="GenerateResponse")
    class OutputSerializer(serializers.Serializer):
        generation = serializers.IntegerField()
        version = serializers.IntegerField()
        result = serializers.JSONField(
            help_text="The kind's result: {text} for copywriting; {text, citations: [{n, id, title, via}], abstained, "
                      "best_score, threshold} for Q&A; {items: [{id, title, score, reason, pitch?}], fallback?, "
                      "pitch_error?} for recommendations (pitch: a top item's sentence, when the version writes them)."
        )
        text = serializers.CharField(help_text="The result as plain text.")
        usage = UsageSerializer()
        sources = serializers.ListField(
            child=serializers.DictField(), required=False,
            help_text="Q&A: the passages found for the question, [{n, id, title, text, score, source_row}]; "
                      "the answer cites them by n (result.citations). Recommendations that write pitches: the ranked "
                      "items as they were sent before the pitches.",
        )

    @extend_schema(
        operation_id="products_generate",
        request=InputSerializer,
        responses={
            (200, "application/json"): OutputSerializer,
            (200, "text/event-stream"): OpenApiResponse(
                sse_event_schema(events=["start", "queued", "sources", "token", "done", "error"],
                                 data="The event as JSON, exactly as the websocket sends it."),
                description="With `stream: true` or `Accept: text/event-stream`: "
                            "`event: start|queued|sources|token|done|error` frames whose `data` is the event as "
                            "JSON, exactly as the websocket sends them; `done` carries the kind's `result`.",
            ),
            400: OpenApiResponse(description="Inputs that do not fit the product, named per field."),
            409: OpenApiResponse(description="The product has no published version, or (Q&A) its documents are "
                                             "still being read: code `knowledge_not_ready`."),
            429: OpenApiResponse(description="The API key started too many generations this minute."),
            503: OpenApiResponse(description="No inference worker answered."),
        },
        examples=[OpenApiExample("Copywriting", request_only=True, value={
            "inputs": {"product": "Trail running shoes", "benefit": "dry feet"}, "stream": True}),
                  OpenApiExample("Q&A follow-up", request_only=True, value={
                      "inputs": {"question": "and how much is express?"},
                      "conversation": [{"role": "user", "content": "How much does shipping cost?"},
                                       {"role": "assistant", "content": "Standard delivery costs 4.95 € [1]."}]})],
    )
    def post(self, request, slug: str):
        product = product_get(team=request.auth.team, slug=slug)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        started = api_generation_start(
            request=request, product=product, inputs=data["inputs"], version=data.get("version"),
            settings=data.get("settings"), conversation=data.get("conversation"), user=data.get("user"),
        )
        if data["stream"] or wants_event_stream(request):
            return sse_response(_event_frames(started))
        final = async_to_sync(collect)(**stream_kwargs(started))
        if final["event"] == "error":
            if final["code"] == "engine_unavailable":
                raise EngineUnavailable(final["message"])
            raise GenerationFailed(final["message"])
        body = self.OutputSerializer({
            "generation": final["generation"], "version": started.version.number, "result": final["result"],
            "text": started.kind.result_text(final["result"]), "usage": final["usage"],
        }).data
        if "sources" in final:  # answer task: the passages the answer was written from
            body["sources"] = final["sources"]
        return Response(body)
