"""Generate with a product: one JSON answer, or Server-Sent Events as the model writes."""

from __future__ import annotations

from collections.abc import AsyncIterator

from asgiref.sync import async_to_sync
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, NotFound, Throttled, ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from inference.client import collect_generation, stream_generation
from products.api.authentication import CanGenerate
from products.api.serializers import UsageSerializer
from products.api.services import GenerationRefused, StartedGeneration, api_generation_start
from products.api.streaming import (
    EventStreamRenderer,
    sse_event_schema,
    sse_frame,
    sse_response,
    wants_event_stream,
)
from products.api.views.base import ApiView
from products.selectors import product_get


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
    if refused.code == "rate_limited":
        return Throttled(detail=refused.message)
    if refused.code == "version_not_found":
        return NotFound(refused.message)
    return Conflict(refused.message, code=refused.code)


def client_kwargs(started: StartedGeneration) -> dict:
    prepared = started.prepared
    return {"generation_id": started.generation.pk, "model": prepared.base_model, "messages": prepared.messages,
            "params": prepared.params, "adapter": prepared.adapter}


async def _event_frames(started: StartedGeneration) -> AsyncIterator[bytes]:
    async for event in stream_generation(**client_kwargs(started)):
        yield sse_frame(event, event=event["event"])


class ProductGenerateApi(ApiView):
    permission_classes = [CanGenerate]
    renderer_classes = [JSONRenderer, EventStreamRenderer]

    @extend_schema_serializer(component_name="Generate")
    class InputSerializer(serializers.Serializer):
        @extend_schema_serializer(component_name="GenerateSettings")
        class SettingsInput(serializers.Serializer):
            creativity = serializers.FloatField(required=False, min_value=0, max_value=1.5)
            length = serializers.IntegerField(required=False, min_value=8, max_value=1024)

        inputs = serializers.DictField(help_text="The product's inputs by name (see the product's `inputs`).")
        version = serializers.IntegerField(required=False, min_value=1,
                                           help_text="A saved version number; the live version when left out.")
        settings = SettingsInput(required=False, help_text="Override the version's creativity or length.")
        stream = serializers.BooleanField(
            default=False, help_text="Stream Server-Sent Events (start, token…, done or error) as the model writes."
        )

    @extend_schema_serializer(component_name="GenerateResponse")
    class OutputSerializer(serializers.Serializer):
        generation = serializers.IntegerField()
        version = serializers.IntegerField()
        text = serializers.CharField()
        usage = UsageSerializer()

    @extend_schema(
        operation_id="products_generate",
        request=InputSerializer,
        responses={
            (200, "application/json"): OutputSerializer,
            (200, "text/event-stream"): OpenApiResponse(
                sse_event_schema(events=["start", "token", "done", "error"],
                                 data="The event as JSON, exactly as the websocket sends it."),
                description="With `stream: true` or `Accept: text/event-stream`: `event: start|token|done|error` "
                            "frames whose `data` is the event as JSON, exactly as the websocket sends them.",
            ),
            400: OpenApiResponse(description="Inputs that do not fit the product, named per field."),
            409: OpenApiResponse(description="The product has no published version."),
            429: OpenApiResponse(description="The API key started too many generations this minute."),
            503: OpenApiResponse(description="No inference worker answered."),
        },
        examples=[OpenApiExample("Copywriting", request_only=True, value={
            "inputs": {"product": "Trail running shoes", "benefit": "dry feet"}, "stream": True})],
    )
    def post(self, request, slug: str):
        product = product_get(team=request.auth.team, slug=slug)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            started = api_generation_start(
                api_key=request.auth, product=product, inputs=data["inputs"], version_number=data.get("version"),
                settings=data.get("settings"),
            )
        except GenerationRefused as refused:
            raise refusal_to_api_error(refused) from None
        if data["stream"] or wants_event_stream(request):
            return sse_response(_event_frames(started))
        result = async_to_sync(collect_generation)(**client_kwargs(started))
        if "error" in result:
            error = result["error"]
            if error["code"] == "engine_unavailable":
                raise EngineUnavailable(error["message"])
            raise GenerationFailed(error["message"])
        return Response(self.OutputSerializer({
            "generation": result["generation"], "version": started.version.number, "text": result["text"],
            "usage": result["usage"],
        }).data)
